import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Delivery(_message.Message):
    __slots__ = ("channel", "recipient", "status", "provider_id", "error", "attempts", "at")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[Delivery.Status]
        STATUS_SENT: _ClassVar[Delivery.Status]
        STATUS_FAILED: _ClassVar[Delivery.Status]
        STATUS_REJECTED: _ClassVar[Delivery.Status]
        STATUS_RATE_LIMITED: _ClassVar[Delivery.Status]
        STATUS_SUPPRESSED: _ClassVar[Delivery.Status]
    STATUS_UNSPECIFIED: Delivery.Status
    STATUS_SENT: Delivery.Status
    STATUS_FAILED: Delivery.Status
    STATUS_REJECTED: Delivery.Status
    STATUS_RATE_LIMITED: Delivery.Status
    STATUS_SUPPRESSED: Delivery.Status
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    channel: str
    recipient: str
    status: Delivery.Status
    provider_id: str
    error: str
    attempts: int
    at: _timestamp_pb2.Timestamp
    def __init__(self, channel: _Optional[str] = ..., recipient: _Optional[str] = ..., status: _Optional[_Union[Delivery.Status, str]] = ..., provider_id: _Optional[str] = ..., error: _Optional[str] = ..., attempts: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AlertEvent(_message.Message):
    __slots__ = ("event_id", "incident_id", "rule_id", "store_id", "zone_id", "camera_id", "metric", "from_state", "to_state", "action", "value", "threshold", "severity", "at", "since", "deliveries")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[AlertEvent.State]
        STATE_INACTIVE: _ClassVar[AlertEvent.State]
        STATE_PENDING: _ClassVar[AlertEvent.State]
        STATE_FIRING: _ClassVar[AlertEvent.State]
        STATE_RESOLVED: _ClassVar[AlertEvent.State]
    STATE_UNSPECIFIED: AlertEvent.State
    STATE_INACTIVE: AlertEvent.State
    STATE_PENDING: AlertEvent.State
    STATE_FIRING: AlertEvent.State
    STATE_RESOLVED: AlertEvent.State
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_ID_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    incident_id: str
    rule_id: str
    store_id: str
    zone_id: str
    camera_id: str
    metric: str
    from_state: AlertEvent.State
    to_state: AlertEvent.State
    action: str
    value: float
    threshold: float
    severity: str
    at: _timestamp_pb2.Timestamp
    since: _timestamp_pb2.Timestamp
    deliveries: _containers.RepeatedCompositeFieldContainer[Delivery]
    def __init__(self, event_id: _Optional[str] = ..., incident_id: _Optional[str] = ..., rule_id: _Optional[str] = ..., store_id: _Optional[str] = ..., zone_id: _Optional[str] = ..., camera_id: _Optional[str] = ..., metric: _Optional[str] = ..., from_state: _Optional[_Union[AlertEvent.State, str]] = ..., to_state: _Optional[_Union[AlertEvent.State, str]] = ..., action: _Optional[str] = ..., value: _Optional[float] = ..., threshold: _Optional[float] = ..., severity: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deliveries: _Optional[_Iterable[_Union[Delivery, _Mapping]]] = ...) -> None: ...
