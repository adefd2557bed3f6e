import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CameraHealth(_message.Message):
    __slots__ = ("camera_id", "store_id", "status", "report_time", "last_frame_time", "reason", "reconnects")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[CameraHealth.Status]
        STATUS_UP: _ClassVar[CameraHealth.Status]
        STATUS_DOWN: _ClassVar[CameraHealth.Status]
    STATUS_UNSPECIFIED: CameraHealth.Status
    STATUS_UP: CameraHealth.Status
    STATUS_DOWN: CameraHealth.Status
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REPORT_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_FRAME_TIME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RECONNECTS_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    store_id: str
    status: CameraHealth.Status
    report_time: _timestamp_pb2.Timestamp
    last_frame_time: _timestamp_pb2.Timestamp
    reason: str
    reconnects: int
    def __init__(self, camera_id: _Optional[str] = ..., store_id: _Optional[str] = ..., status: _Optional[_Union[CameraHealth.Status, str]] = ..., report_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_frame_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ..., reconnects: _Optional[int] = ...) -> None: ...
