"""Cost guard: classify a track's face at most every N frames, and only faces big enough to judge."""

from __future__ import annotations


class CostGuard:
    """Decides per track which frames get the (costly) face stage.

    >>> guard = CostGuard(every_n_frames=5, min_face_px=24)
    >>> [guard.due(7, seq) for seq in (10, 12, 15)]
    [True, False, True]
    """

    def __init__(self, every_n_frames: int, min_face_px: float):
        self.every_n_frames = every_n_frames
        self.min_face_px = min_face_px
        self._last: dict[int, int] = {}

    def due(self, track_id: int, frame_seq: int) -> bool:
        """True (and remembered) when this track was not sampled in the last N-1 frames."""
        last = self._last.get(track_id)
        if last is not None and 0 <= frame_seq - last < self.every_n_frames:
            return False
        self._last[track_id] = frame_seq
        return True

    def big_enough(self, face_px: float) -> bool:
        return face_px >= self.min_face_px

    def forget(self, track_ids: set[int]) -> None:
        """Drop finished tracks so the guard's memory stays bounded."""
        for track_id in track_ids:
            self._last.pop(track_id, None)
