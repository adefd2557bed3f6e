import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Box(_message.Message):
    __slots__ = ("x1", "y1", "x2", "y2")
    X1_FIELD_NUMBER: _ClassVar[int]
    Y1_FIELD_NUMBER: _ClassVar[int]
    X2_FIELD_NUMBER: _ClassVar[int]
    Y2_FIELD_NUMBER: _ClassVar[int]
    x1: float
    y1: float
    x2: float
    y2: float
    def __init__(self, x1: _Optional[float] = ..., y1: _Optional[float] = ..., x2: _Optional[float] = ..., y2: _Optional[float] = ...) -> None: ...

class Point(_message.Message):
    __slots__ = ("x", "y")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ...) -> None: ...

class Person(_message.Message):
    __slots__ = ("box", "confidence", "track_id", "foot", "predicted")
    BOX_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    FOOT_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_FIELD_NUMBER: _ClassVar[int]
    box: Box
    confidence: float
    track_id: int
    foot: Point
    predicted: bool
    def __init__(self, box: _Optional[_Union[Box, _Mapping]] = ..., confidence: _Optional[float] = ..., track_id: _Optional[int] = ..., foot: _Optional[_Union[Point, _Mapping]] = ..., predicted: _Optional[bool] = ...) -> None: ...

class AttributeAggregate(_message.Message):
    __slots__ = ("zone_id", "window_start", "window_end", "distinct_tracks", "expressions", "age_bands", "genders")
    class ExpressionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class AgeBandsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class GendersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ZONE_ID_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_FIELD_NUMBER: _ClassVar[int]
    DISTINCT_TRACKS_FIELD_NUMBER: _ClassVar[int]
    EXPRESSIONS_FIELD_NUMBER: _ClassVar[int]
    AGE_BANDS_FIELD_NUMBER: _ClassVar[int]
    GENDERS_FIELD_NUMBER: _ClassVar[int]
    zone_id: str
    window_start: _timestamp_pb2.Timestamp
    window_end: _timestamp_pb2.Timestamp
    distinct_tracks: int
    expressions: _containers.ScalarMap[str, int]
    age_bands: _containers.ScalarMap[str, int]
    genders: _containers.ScalarMap[str, int]
    def __init__(self, zone_id: _Optional[str] = ..., window_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., window_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., distinct_tracks: _Optional[int] = ..., expressions: _Optional[_Mapping[str, int]] = ..., age_bands: _Optional[_Mapping[str, int]] = ..., genders: _Optional[_Mapping[str, int]] = ...) -> None: ...

class Detections(_message.Message):
    __slots__ = ("camera_id", "store_id", "frame_seq", "capture_time", "persons", "model", "inference_ms", "frame_width", "frame_height", "attributes", "tracker_epoch", "effective_fps")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    FRAME_SEQ_FIELD_NUMBER: _ClassVar[int]
    CAPTURE_TIME_FIELD_NUMBER: _ClassVar[int]
    PERSONS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_MS_FIELD_NUMBER: _ClassVar[int]
    FRAME_WIDTH_FIELD_NUMBER: _ClassVar[int]
    FRAME_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    TRACKER_EPOCH_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FPS_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    store_id: str
    frame_seq: int
    capture_time: _timestamp_pb2.Timestamp
    persons: _containers.RepeatedCompositeFieldContainer[Person]
    model: str
    inference_ms: float
    frame_width: int
    frame_height: int
    attributes: _containers.RepeatedCompositeFieldContainer[AttributeAggregate]
    tracker_epoch: str
    effective_fps: float
    def __init__(self, camera_id: _Optional[str] = ..., store_id: _Optional[str] = ..., frame_seq: _Optional[int] = ..., capture_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., persons: _Optional[_Iterable[_Union[Person, _Mapping]]] = ..., model: _Optional[str] = ..., inference_ms: _Optional[float] = ..., frame_width: _Optional[int] = ..., frame_height: _Optional[int] = ..., attributes: _Optional[_Iterable[_Union[AttributeAggregate, _Mapping]]] = ..., tracker_epoch: _Optional[str] = ..., effective_fps: _Optional[float] = ...) -> None: ...
