"""AttributeGroup <-> AttributeAggregate (protobuf): the one place both sides of the wire use.

Detect writes groups with ``to_proto``; aggregate reads them with ``from_proto`` and writes
them into ZoneStats with ``to_proto`` again, so the two never drift apart.
"""

from __future__ import annotations

from storesight.contracts import seconds
from storesight.v1.detections_pb2 import AttributeAggregate

from .anonymity import AttributeGroup


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
