import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from storesight.v1 import detections_pb2 as _detections_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ZoneStats(_message.Message):
    __slots__ = ("store_id", "zone_id", "zone_kind", "window_start", "window_end", "live", "status", "coverage", "occupancy_avg", "occupancy_min", "occupancy_max", "entries", "exits", "unique_tracks", "dwell_p50_s", "dwell_p90_s", "dwell_max_s", "queue_length", "wait_estimate_s", "wait_measured_s", "throughput_per_min", "late_records", "attributes")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[ZoneStats.Status]
        STATUS_OK: _ClassVar[ZoneStats.Status]
        STATUS_PARTIAL: _ClassVar[ZoneStats.Status]
        STATUS_UNKNOWN: _ClassVar[ZoneStats.Status]
    STATUS_UNSPECIFIED: ZoneStats.Status
    STATUS_OK: ZoneStats.Status
    STATUS_PARTIAL: ZoneStats.Status
    STATUS_UNKNOWN: ZoneStats.Status
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_KIND_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_FIELD_NUMBER: _ClassVar[int]
    LIVE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    OCCUPANCY_AVG_FIELD_NUMBER: _ClassVar[int]
    OCCUPANCY_MIN_FIELD_NUMBER: _ClassVar[int]
    OCCUPANCY_MAX_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    EXITS_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_TRACKS_FIELD_NUMBER: _ClassVar[int]
    DWELL_P50_S_FIELD_NUMBER: _ClassVar[int]
    DWELL_P90_S_FIELD_NUMBER: _ClassVar[int]
    DWELL_MAX_S_FIELD_NUMBER: _ClassVar[int]
    QUEUE_LENGTH_FIELD_NUMBER: _ClassVar[int]
    WAIT_ESTIMATE_S_FIELD_NUMBER: _ClassVar[int]
    WAIT_MEASURED_S_FIELD_NUMBER: _ClassVar[int]
    THROUGHPUT_PER_MIN_FIELD_NUMBER: _ClassVar[int]
    LATE_RECORDS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    zone_id: str
    zone_kind: str
    window_start: _timestamp_pb2.Timestamp
    window_end: _timestamp_pb2.Timestamp
    live: bool
    status: ZoneStats.Status
    coverage: float
    occupancy_avg: float
    occupancy_min: int
    occupancy_max: int
    entries: int
    exits: int
    unique_tracks: int
    dwell_p50_s: float
    dwell_p90_s: float
    dwell_max_s: float
    queue_length: float
    wait_estimate_s: float
    wait_measured_s: float
    throughput_per_min: float
    late_records: int
    attributes: _containers.RepeatedCompositeFieldContainer[_detections_pb2.AttributeAggregate]
    def __init__(self, store_id: _Optional[str] = ..., zone_id: _Optional[str] = ..., zone_kind: _Optional[str] = ..., window_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., window_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., live: _Optional[bool] = ..., status: _Optional[_Union[ZoneStats.Status, str]] = ..., coverage: _Optional[float] = ..., occupancy_avg: _Optional[float] = ..., occupancy_min: _Optional[int] = ..., occupancy_max: _Optional[int] = ..., entries: _Optional[int] = ..., exits: _Optional[int] = ..., unique_tracks: _Optional[int] = ..., dwell_p50_s: _Optional[float] = ..., dwell_p90_s: _Optional[float] = ..., dwell_max_s: _Optional[float] = ..., queue_length: _Optional[float] = ..., wait_estimate_s: _Optional[float] = ..., wait_measured_s: _Optional[float] = ..., throughput_per_min: _Optional[float] = ..., late_records: _Optional[int] = ..., attributes: _Optional[_Iterable[_Union[_detections_pb2.AttributeAggregate, _Mapping]]] = ...) -> None: ...
