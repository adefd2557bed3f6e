import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StoreStats(_message.Message):
    __slots__ = ("store_id", "window_start", "window_end", "local_date", "status", "coverage", "open", "entries", "exits", "occupancy", "footfall_day", "clamped", "reset", "drift", "late_rows")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[StoreStats.Status]
        STATUS_OK: _ClassVar[StoreStats.Status]
        STATUS_PARTIAL: _ClassVar[StoreStats.Status]
        STATUS_UNKNOWN: _ClassVar[StoreStats.Status]
    STATUS_UNSPECIFIED: StoreStats.Status
    STATUS_OK: StoreStats.Status
    STATUS_PARTIAL: StoreStats.Status
    STATUS_UNKNOWN: StoreStats.Status
    class Reset(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        RESET_UNSPECIFIED: _ClassVar[StoreStats.Reset]
        RESET_NONE: _ClassVar[StoreStats.Reset]
        RESET_OPENING: _ClassVar[StoreStats.Reset]
        RESET_CLOSING: _ClassVar[StoreStats.Reset]
        RESET_RECONCILED: _ClassVar[StoreStats.Reset]
    RESET_UNSPECIFIED: StoreStats.Reset
    RESET_NONE: StoreStats.Reset
    RESET_OPENING: StoreStats.Reset
    RESET_CLOSING: StoreStats.Reset
    RESET_RECONCILED: StoreStats.Reset
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_FIELD_NUMBER: _ClassVar[int]
    LOCAL_DATE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    EXITS_FIELD_NUMBER: _ClassVar[int]
    OCCUPANCY_FIELD_NUMBER: _ClassVar[int]
    FOOTFALL_DAY_FIELD_NUMBER: _ClassVar[int]
    CLAMPED_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    DRIFT_FIELD_NUMBER: _ClassVar[int]
    LATE_ROWS_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    window_start: _timestamp_pb2.Timestamp
    window_end: _timestamp_pb2.Timestamp
    local_date: str
    status: StoreStats.Status
    coverage: float
    open: bool
    entries: int
    exits: int
    occupancy: int
    footfall_day: int
    clamped: int
    reset: StoreStats.Reset
    drift: int
    late_rows: int
    def __init__(self, store_id: _Optional[str] = ..., window_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., window_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., local_date: _Optional[str] = ..., status: _Optional[_Union[StoreStats.Status, str]] = ..., coverage: _Optional[float] = ..., open: _Optional[bool] = ..., entries: _Optional[int] = ..., exits: _Optional[int] = ..., occupancy: _Optional[int] = ..., footfall_day: _Optional[int] = ..., clamped: _Optional[int] = ..., reset: _Optional[_Union[StoreStats.Reset, str]] = ..., drift: _Optional[int] = ..., late_rows: _Optional[int] = ...) -> None: ...
