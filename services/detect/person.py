"""One person in one frame: what the tracker returns and what goes into a Detections message.

Coordinates are normalised to 0..1 of the image (origin top-left) from the moment the
detector's boxes are scaled (``pipeline.normalise``), so the tracker, the JSON lines of
``storesight detect-file`` and the protobuf message all carry the same type.

>>> person = Person((0.1, 0.2, 0.3, 0.9), 0.8, track_id=7)
>>> person.foot
(0.2, 0.9)
>>> Person((0.3, -0.1, 0.1, 1.2), 0.5, 3, predicted=True).clipped().box
(0.1, 0.0, 0.3, 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Person:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2, normalised
    confidence: float
    track_id: int  # 0 = not (yet) a confirmed track
    predicted: bool = False  # not detected in this frame: a briefly hidden, tracked person (predicted box)

    @property
    def foot(self) -> tuple[float, float]:
        """Where the person stands: bottom centre of the box."""
        return ((self.box[0] + self.box[2]) / 2, self.box[3])

    def clipped(self) -> Person:
        """The same person with the box ordered and inside the image (a prediction can leave it)."""
        x1, y1, x2, y2 = (min(max(v, 0.0), 1.0) for v in self.box)
        return Person((min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)), self.confidence, self.track_id,
                      self.predicted)
