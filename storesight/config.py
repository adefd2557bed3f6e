"""The one typed configuration model: region -> stores -> cameras -> zones/lines, and rules.

A bad file fails fast with the path of every bad key (``stores[0].cameras[1].zones[2].polygon:
needs at least 3 points``) and starts nothing. Geometry is in normalised image coordinates
(0..1) so a camera's resolution can change. Secrets never live here: they come from the
environment (see ``storesight.secrets``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
Id = Annotated[str, Field(pattern=ID_PATTERN, description="lower-case letters, digits, '-' and '_'")]

# Keys that look like secrets are refused with a pointer to the environment variable instead.
SECRET_KEY_WORDS = ("password", "token", "secret", "api_key", "apikey", "auth")


class Strict(BaseModel):
    """Base for every config section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _unit_coordinate(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError("coordinates are normalised: each must be between 0 and 1")
    return value


Coordinate = Annotated[float, AfterValidator(_unit_coordinate)]
NormPoint = tuple[Coordinate, Coordinate]


def _parse_hhmm(value: str) -> dt.time:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", value)
    if not match or int(match[1]) > 24 or int(match[2]) > 59:
        raise ValueError(f"{value!r} is not a time of day like '08:30'")
    if int(match[1]) == 24:
        return dt.time(23, 59, 59)
    return dt.time(int(match[1]), int(match[2]))


TimeOfDay = Annotated[str, AfterValidator(lambda v: (_parse_hhmm(v), v)[1])]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class TimeRange(Strict):
    """A daily time range in store-local time; ``end`` before ``start`` wraps past midnight."""

    start: TimeOfDay
    end: TimeOfDay
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS))

    def contains(self, local: dt.datetime) -> bool:
        """True when the store-local datetime falls inside the range (on one of its days)."""
        start, end, now = _parse_hhmm(self.start), _parse_hhmm(self.end), local.time()
        day = WEEKDAYS[local.weekday()]
        if start <= end:
            return day in self.days and start <= now < end
        # Wraps midnight: the evening part belongs to today, the morning part to yesterday.
        yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
        return (day in self.days and now >= start) or (yesterday in self.days and now < end)


class MotionGate(Strict):
    enabled: bool = False
    # Fraction of changed pixels (0..1) above which a frame counts as motion.
    threshold: float = Field(0.02, gt=0, lt=1)
    # Per-pixel intensity change (0..255) that counts a pixel as changed.
    pixel_delta: int = Field(25, ge=1, le=255)
    # Send a frame at least this often even without motion, so "empty" is known.
    keepalive_s: float = Field(5.0, gt=0)


class ZoneKind(StrEnum):
    aisle = "aisle"
    queue = "queue"
    checkout = "checkout"
    entrance = "entrance"
    area = "area"


def _check_polygon(polygon: list[NormPoint]) -> list[NormPoint]:
    if len(polygon) < 3:
        raise ValueError("needs at least 3 points")
    area2 = sum(
        x0 * y1 - x1 * y0
        for (x0, y0), (x1, y1) in zip(polygon, polygon[1:] + polygon[:1], strict=True)
    )
    if abs(area2) < 1e-9:
        raise ValueError("has no area (its points are on one line)")
    return polygon


class Zone(Strict):
    id: Id
    kind: ZoneKind
    polygon: list[NormPoint]
    capacity: int | None = Field(None, ge=1)
    # Queue zones: the till the queue leads to (a zone id on the same camera), used for service rate.
    serves: Id | None = None
    # Behind the tills, stockroom doors: where staff are (see the store's staff_share).
    staff_only: bool = False

    @field_validator("polygon")
    @classmethod
    def _polygon_shape(cls, polygon: list[NormPoint]) -> list[NormPoint]:
        return _check_polygon(polygon)


class ZonePart(Strict):
    """One camera's view of a multi-camera zone: a polygon in that camera's image."""

    camera: Id
    polygon: list[NormPoint]

    @field_validator("polygon")
    @classmethod
    def _polygon_shape(cls, polygon: list[NormPoint]) -> list[NormPoint]:
        return _check_polygon(polygon)


class MultiCameraZone(Strict):
    """A zone of the store made of (camera, polygon) parts: one area several cameras watch.

    Persons are counted once: foot points inside the parts are projected to the floor plan (each
    part's camera needs a ``floor`` calibration when there are two or more parts) and points of
    different cameras closer than the store's ``merge_distance_m`` are one person. Parts that do not
    overlap simply add up.
    """

    id: Id
    kind: ZoneKind = ZoneKind.area
    parts: list[ZonePart] = Field(min_length=1)
    capacity: int | None = Field(None, ge=1)


class Line(Strict):
    """A counting line from ``a`` to ``b``; ``in_point`` is any point on the store's inside.

    A track that crosses from the other side to the ``in_point`` side is an entry, the
    reverse an exit. A point is clearer than "left/right" in image coordinates.
    """

    id: Id
    a: NormPoint
    b: NormPoint
    in_point: NormPoint

    @model_validator(mode="after")
    def _geometry(self) -> Line:
        if self.a == self.b:
            raise ValueError("a and b must be two different points")
        (ax, ay), (bx, by), (px, py) = self.a, self.b, self.in_point
        if abs((bx - ax) * (py - ay) - (by - ay) * (px - ax)) < 1e-9:
            raise ValueError("in_point lies on the line: it must be on the inside")
        return self


class FloorCalibration(Strict):
    """Where a camera's image lies on the store's floor plan: 4+ point pairs, marked by the installer.

    ``image``: normalised image points; ``floor``: the same points on the floor plan, in metres. They
    must give a homography (4 of them with no 3 on one line, more pairs agreeing to 0.25 m).
    """

    image: list[NormPoint]
    floor: list[tuple[float, float]]

    @model_validator(mode="after")
    def _fits(self) -> FloorCalibration:
        from storesight.floorplane import fit_homography

        fit_homography(self.image, self.floor)  # raises ValueError with the reason
        return self


class FloorPlan(Strict):
    """The store's floor plan: an image whose top-left pixel is floor point (0, 0) m, and its scale."""

    image: str = Field(min_length=1, description="PNG/JPEG path (relative paths: to the config file)")
    metres_per_pixel: float = Field(gt=0)


class Camera(Strict):
    id: Id
    # file path, file://, rtsp://, http(s):// (MJPEG), dir:// (image folder) or device://N
    source: str = Field(min_length=1)
    fps: float = Field(5.0, gt=0, le=60)
    max_width: int = Field(768, ge=64, le=4096)
    jpeg_quality: int = Field(80, ge=10, le=100)
    motion_gate: MotionGate = MotionGate()
    # Opt-in per camera for sentiment/demographics; needs the store's privacy.attributes_enabled too.
    attributes_enabled: bool = False
    # Files only: replay at the clip's own speed (true) or as fast as possible (false).
    realtime: bool = True
    # Files only: capture time of the first frame, so replays are deterministic.
    start_time: dt.datetime | None = None
    zones: list[Zone] = Field(default_factory=list)
    lines: list[Line] = Field(default_factory=list)
    # Image -> floor plan (metres): foot points of all cameras on one plane (see storesight.floorplane).
    floor: FloorCalibration | None = None
    # Detect: this camera's model input long side (pixels, a multiple of 32), instead of
    # pipeline.detect.input_size: larger finds smaller, far-away people at a higher CPU cost
    # (about quadratic in the size; bench/ACCURACY.md "Detector input size").
    detect_input_size: int | None = Field(None, ge=160, le=1920, multiple_of=32)
    detect_input_fit: Literal["frame", "square"] | None = None  # instead of pipeline.detect.input_fit
    # Detect: drop detections whose foot point is inside one of these polygons (a poster, a
    # mannequin, a figure that never moves); find them with `storesight detect-file`.
    ignore_regions: list[list[NormPoint]] = Field(default_factory=list)

    @field_validator("ignore_regions")
    @classmethod
    def _regions_shape(cls, regions: list[list[NormPoint]]) -> list[list[NormPoint]]:
        if any(len(polygon) < 3 for polygon in regions):
            raise ValueError("each region needs at least 3 points")
        return regions

    @field_validator("start_time")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2026-11-21T09:00:00Z")
        return value


class Comparison(StrEnum):
    gt = ">"
    ge = ">="
    lt = "<"
    le = "<="


class Metric(StrEnum):
    queue_length = "queue_length"
    wait_seconds = "wait_seconds"
    occupancy = "occupancy"
    occupancy_pct = "occupancy_pct"
    entries = "entries"
    camera_down = "camera_down"
    # Store-wide, from the store's entrances (no zone): persons inside now, entries per window.
    store_occupancy = "store_occupancy"
    footfall = "footfall"


STORE_METRICS = (Metric.store_occupancy, Metric.footfall)


class Channel(StrEnum):
    sms = "sms"
    email = "email"
    webhook = "webhook"


class Recipient(Strict):
    name: str = Field(min_length=1)
    phone: str | None = Field(None, pattern=r"^\+[1-9]\d{6,14}$", description="E.164, e.g. +15550100")
    email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    webhook_url: str | None = Field(None, pattern=r"^https?://")


class Rule(Strict):
    id: Id
    metric: Metric
    # Zone the rule watches (not for camera_down).
    zone: Id | None = None
    # Camera the rule watches (camera_down only; absent = any camera of the store).
    camera: Id | None = None
    op: Comparison = Comparison.ge
    threshold: float = 1.0
    # Hysteresis: the incident resolves only once the value is back past this.
    clear_threshold: float | None = None
    for_s: float = Field(0.0, ge=0, description="how long the condition must hold before firing")
    cooldown_s: float = Field(600.0, ge=0, description="quiet time after resolving before a new incident")
    repeat_s: float | None = Field(None, gt=0, description="repeat a firing incident's message this often")
    escalate_after_s: float | None = Field(None, gt=0)
    escalate_to: list[Recipient] = Field(default_factory=list)
    severity: Literal["info", "warning", "critical"] = "warning"
    only_business_hours: bool = True
    quiet_hours: list[TimeRange] = Field(default_factory=list)
    channels: list[Channel] = Field(default_factory=lambda: [Channel.sms])
    recipients: list[Recipient] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if self.metric is Metric.camera_down:
            if self.zone is not None:
                raise ValueError("camera_down rules watch a camera: use 'camera', not 'zone'")
        elif self.metric in STORE_METRICS:
            if self.zone is not None or self.camera is not None:
                raise ValueError(f"{self.metric.value} rules watch the whole store: no 'zone' or 'camera'")
        elif self.zone is None:
            raise ValueError(f"a {self.metric.value} rule needs a 'zone'")
        if self.clear_threshold is not None:
            rising = self.op in (Comparison.gt, Comparison.ge)
            if rising and self.clear_threshold > self.threshold:
                raise ValueError("clear_threshold must not be above threshold for a '>'/'>=' rule")
            if not rising and self.clear_threshold < self.threshold:
                raise ValueError("clear_threshold must not be below threshold for a '<'/'<=' rule")
        for channel in self.channels:
            field = {"sms": "phone", "email": "email", "webhook": "webhook_url"}[channel.value]
            if self.recipients and not any(getattr(r, field) for r in self.recipients):
                raise ValueError(f"channel {channel.value} is on but no recipient has a {field}")
        return self


class Privacy(Strict):
    """Opt-in sentiment and demographics; only aggregates over >= k tracks ever leave detect."""

    attributes_enabled: bool = False
    k_anonymity: int = Field(5, ge=2)
    # A track has attributes only after this many classified faces (never from one frame).
    min_observations: int = Field(3, ge=2)
    # A track unseen this long (capture time) is finished and counted in its last window.
    track_close_s: float = Field(5.0, gt=0)


class Entrance(Strict):
    """A door of the store: a counting line of one of its cameras (crossing it inwards enters the store)."""

    camera: Id
    line: Id


class Store(Strict):
    id: Id
    name: str = ""
    timezone: str = Field(description="IANA time zone, e.g. Europe/Lisbon")
    business_hours: list[TimeRange] = Field(default_factory=list, description="empty = always open")
    privacy: Privacy = Privacy()
    cameras: list[Camera] = Field(min_length=1)
    rules: list[Rule] = Field(default_factory=list)
    # The doors: store occupancy (entries - exits since opening) and footfall come from these lines.
    entrances: list[Entrance] = Field(default_factory=list)
    # Drift correction besides the reset at opening and closing: when every zone of the store has
    # seen nobody for this long, the store occupancy is set to 0 (None = off).
    occupancy_reconcile_empty_s: float | None = Field(None, gt=0)
    # Foot points of two cameras closer than this on the floor plan, at the same time, are one person.
    merge_distance_m: float = Field(0.5, gt=0)
    # Staff exclusion: a track that appears in a staff-only zone, or has spent more than this share of
    # at least staff_min_seen_s in staff-only zones, is staff: left out of customer numbers (None = off).
    staff_share: float | None = Field(None, gt=0, le=1)
    staff_min_seen_s: float = Field(3.0, gt=0)
    # Image of the floor; cameras with a 'floor' calibration draw on it (storesight floor-heatmap).
    floor_plan: FloorPlan | None = None
    # Zones watched by several cameras (see MultiCameraZone); their ids share the zones' namespace.
    multi_zones: list[MultiCameraZone] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Lisbon)") from exc
        return value

    @model_validator(mode="after")
    def _references(self) -> Store:
        _unique("cameras", [c.id for c in self.cameras])
        zone_ids = [z.id for c in self.cameras for z in c.zones] + [z.id for z in self.multi_zones]
        _unique("zones", zone_ids)
        self._check_multi_zones()
        if self.staff_share is not None and not any(z.staff_only for c in self.cameras for z in c.zones):
            raise ValueError("staff_share needs at least one zone with staff_only: true")
        _unique("lines", [ln.id for c in self.cameras for ln in c.lines])
        _unique("rules", [r.id for r in self.rules])
        camera_ids = {c.id for c in self.cameras}
        for camera in self.cameras:
            own = {z.id for z in camera.zones}
            for zone in camera.zones:
                if zone.serves is not None and zone.serves not in own:
                    raise ValueError(f"zone {zone.id!r} serves {zone.serves!r}, not a zone of camera {camera.id!r}")
        self._check_entrances(zone_ids)
        for rule in self.rules:
            if rule.metric in STORE_METRICS and not self.entrances:
                raise ValueError(f"rule {rule.id!r} uses {rule.metric.value} but the store has no 'entrances'")
            if rule.zone is not None and rule.zone not in zone_ids:
                raise ValueError(f"rule {rule.id!r} watches zone {rule.zone!r}, which no camera has")
            if rule.camera is not None and rule.camera not in camera_ids:
                raise ValueError(f"rule {rule.id!r} watches camera {rule.camera!r}, which the store lacks")
            if rule.metric is Metric.occupancy_pct:
                zone = self.zone(rule.zone or "")
                if zone is not None and zone.capacity is None:
                    raise ValueError(f"rule {rule.id!r} uses occupancy_pct but zone {zone.id!r} has no capacity")
        return self

    def _check_multi_zones(self) -> None:
        cameras = {c.id: c for c in self.cameras}
        for zone in self.multi_zones:
            _unique(f"zone {zone.id!r} part cameras", [p.camera for p in zone.parts])
            for part in zone.parts:
                camera = cameras.get(part.camera)
                if camera is None:
                    raise ValueError(f"zone {zone.id!r}: the store has no camera {part.camera!r}")
                if len(zone.parts) > 1 and camera.floor is None:
                    raise ValueError(f"zone {zone.id!r}: camera {part.camera!r} needs a 'floor' calibration, so "
                                     "a person seen by two of its cameras counts once")

    def _check_entrances(self, zone_ids: list[str]) -> None:
        lines = {c.id: {ln.id for ln in c.lines} for c in self.cameras}
        _unique("entrances", [f"{e.camera}/{e.line}" for e in self.entrances])
        for entrance in self.entrances:
            if entrance.camera not in lines:
                raise ValueError(f"entrance {entrance.camera}/{entrance.line}: the store has no camera "
                                 f"{entrance.camera!r}")
            if entrance.line not in lines[entrance.camera]:
                raise ValueError(f"entrance {entrance.camera}/{entrance.line}: camera {entrance.camera!r} has no "
                                 f"line {entrance.line!r}")
        if self.occupancy_reconcile_empty_s is not None and not (self.entrances and zone_ids):
            raise ValueError("occupancy_reconcile_empty_s needs 'entrances' and at least one zone")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def zone(self, zone_id: str) -> Zone | MultiCameraZone | None:
        return next((z for c in self.cameras for z in c.zones if z.id == zone_id),
                    next((z for z in self.multi_zones if z.id == zone_id), None))

    def is_open(self, when: dt.datetime) -> bool:
        """Business hours in the store's own time zone; no hours configured = always open."""
        if not self.business_hours:
            return True
        local = when.astimezone(self.tz)
        return any(r.contains(local) for r in self.business_hours)


def _unique(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise ValueError(f"{what} id {item!r} is used twice")
        seen.add(item)


class KafkaSettings(Strict):
    """Client settings that are right on real Kafka and also work on the embedded broker."""

    bootstrap: str = "127.0.0.1:9092"
    session_timeout_ms: int = Field(6000, ge=1000)
    heartbeat_interval_ms: int = Field(1500, ge=100)
    # Low fetch wait keeps per-hop latency down on the embedded broker, which waits the full time.
    # Real Kafka answers as soon as data is there: the deploy overlays set 500 (python -m bench.idle:
    # an idle consumer then uses ~0.7 % of a core instead of ~8.5 %).
    fetch_max_wait_ms: int = Field(10, ge=0)
    max_request_bytes: int = Field(16 * 1024 * 1024, ge=1024 * 1024)
    # Security of every producer, consumer and admin client (storesight.kafka_clients). Managed
    # Kafka needs SASL_SSL; the embedded broker is PLAINTEXT on loopback. The SASL user and
    # password come only from KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD in the environment.
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    # CA bundle (PEM) that signed the brokers' certificates; None = the system's CAs.
    ssl_ca_file: str | None = None
    # Client certificate and key (PEM) for mutual TLS; an encrypted key's passphrase comes
    # from KAFKA_SSL_KEY_PASSWORD.
    ssl_cert_file: str | None = None
    ssl_key_file: str | None = None
    # The broker's certificate must name the host the client connected to (off only for tests
    # against an IP without a matching certificate: never in production).
    ssl_check_hostname: bool = True
    # Bound on the start-up check (TCP, TLS handshake, authentication): a wrong credential or
    # CA fails the service at start instead of hanging or retrying.
    connect_timeout_s: float = Field(10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _tls_consistent(self) -> KafkaSettings:
        tls = self.security_protocol in ("SSL", "SASL_SSL")
        files = {k: v for k, v in (("ssl_ca_file", self.ssl_ca_file), ("ssl_cert_file", self.ssl_cert_file),
                                   ("ssl_key_file", self.ssl_key_file)) if v}
        if files and not tls:
            raise ValueError(f"{', '.join(files)} set but security_protocol is {self.security_protocol}: "
                             "use SSL or SASL_SSL")
        if bool(self.ssl_cert_file) != bool(self.ssl_key_file):
            raise ValueError("ssl_cert_file and ssl_key_file go together (mutual TLS needs both)")
        return self


class IngestSettings(Strict):
    replicas: int = Field(1, ge=1)
    reconnect_initial_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)
    health_interval_s: float = Field(2.0, gt=0)


class DetectSettings(Strict):
    # openvino: CPU default (onnxruntime is the fallback); ultralytics: GPU nodes.
    backend: Literal["openvino", "onnxruntime", "ultralytics"] = "openvino"
    # openvino only. auto: BF16 where the CPU has it (AMX / avx512_bf16), else FP32; int8 runs
    # int8_model_path (made by `storesight detect-quantize`). An explicit precision the CPU lacks is an error.
    precision: Literal["auto", "fp32", "bf16", "int8"] = "auto"
    int8_model_path: str | None = None
    # Sentiment/demographics cost guard (only where a store and camera opted in).
    attributes_every_n_frames: int = Field(5, ge=1, description="classify a track's face at most every N frames")
    attributes_min_face_px: int = Field(20, ge=8, description="skip faces whose shorter side is smaller (pixels)")
    attributes_face_input: int = Field(160, ge=64, le=640, multiple_of=32)
    attributes_head_fraction: float = Field(0.4, gt=0, le=1, description="upper part of a person box searched for a face")
    device: Literal["cpu", "cuda"] = "cpu"
    model_path: str | None = None
    # The model input's long side (a camera's detect_input_size overrides it). input_fit frame: the
    # input has the frame's aspect (768x432 runs as 640x384); square: input_size x input_size (the
    # default: frame at 640 was cheaper but lost accuracy on PETS09, bench/ACCURACY.md "Detector
    # input size"). A model with a fixed input (not a YOLOv8 graph this package can cut) runs square.
    input_size: int = Field(640, ge=160, le=1920, multiple_of=32)
    input_fit: Literal["frame", "square"] = "square"
    confidence: float = Field(0.35, gt=0, lt=1)
    iou: float = Field(0.6, gt=0, lt=1)
    max_batch: int = Field(8, ge=1, le=256)
    max_wait_ms: float = Field(20.0, ge=0)
    max_frame_age_s: float = Field(10.0, gt=0)
    # Load shedding: a queued frame is skipped once its camera has a frame this much newer
    # waiting, so a slow detector runs each camera's newest frames at an even cadence instead
    # of falling behind (0 = only the newest; a large value keeps every frame: backfills).
    shed_window_s: float = Field(0.0, ge=0)
    # Exported per camera as storesight_detect_effective_fps_floor: the alert
    # StoreSightDetectRateLow fires while detect sheds load and runs a camera slower than this
    # (counts stay right down to the rate bench.overload measured; README "Detector capacity").
    min_effective_fps: float = Field(3.0, ge=0)
    # Run the detector at most this many frames a second, all cameras together (0 = as fast as
    # it goes): a CPU budget on a shared node, and how tests make a fast detector a slow one.
    max_detect_fps: float = Field(0.0, ge=0)
    track_gap_s: float = Field(5.0, gt=0, description="reset a camera's tracker after this long without frames")
    # Weaker detections than `confidence` are kept only to recognise static fixtures (fixtures.py);
    # the tracker (OC-SORT) uses none of them.
    track_low_confidence: float = Field(0.05, gt=0, lt=1)
    # How long a track whose person is hidden keeps its id, waiting to be matched again.
    track_memory_s: float = Field(2.0, ge=0)
    # Keep reporting a tracked person hidden by others (predicted box, `predicted` flag) this long.
    track_report_hidden_s: float = Field(0.5, ge=0)
    # How the tracker matches a track to a detection (services/detect/tracker.py): "biou" (buffered
    # IoU >= track_match_iou, each box enlarged on every side by track_buffer_per_s box sizes per
    # second between the camera's processed frames: together the two boxes reach 2 box widths a
    # second, a walking pace, so fast people stay tracked at 1-3 frames/s and at the camera's full
    # rate it is nearly plain IoU), "iou", "diou" or "giou". bench.association compares them.
    track_association: Literal["iou", "biou", "diou", "giou"] = "biou"
    track_match_iou: float = Field(0.3, ge=-1, le=1)
    track_buffer_per_s: float = Field(1.0, ge=0)
    # A detection that stays in one place this long is a static fixture (mannequin, poster) and is
    # dropped from then on, per camera (services/detect/fixtures.py); 0 turns this off.
    fixture_after_s: float = Field(900.0, ge=0)
    # ultralytics backend only: export and run a TensorRT engine (needs TensorRT on the GPU node).
    tensorrt: bool = False


class AggregateSettings(Strict):
    window_s: int = Field(60, ge=1)
    allowed_lateness_s: float = Field(10.0, ge=0)
    # A camera silent for longer than this makes its zones unknown.
    stale_after_s: float = Field(15.0, gt=0)
    live_ttl_s: int = Field(30, ge=1)
    # Without entrance lines, a track counts as a visitor after this dwell.
    min_visit_dwell_s: float = Field(3.0, ge=0)
    line_debounce_px: float = Field(0.02, ge=0, description="normalised distance a track must pass beyond a line")
    # A track's foot point moving faster than this (normalised image units per second, over at least
    # line_min_step_s) jumped to another person: its line sides are forgotten, the jump is no crossing.
    line_max_speed: float | None = Field(1.5, gt=0)
    line_min_step_s: float = Field(0.1, ge=0)
    heatmap_grid: tuple[int, int] = (64, 36)
    # A track unseen this long has left (its visits end); also guards against reused track ids.
    track_gone_s: float = Field(2.0, gt=0)
    # A track must be outside a zone this long before its visit ends (jitter on the zone edge).
    zone_exit_grace_s: float = Field(1.0, ge=0)
    # A stay in a zone shorter than this is a pass-by (a foot point grazing the polygon): it is
    # in the occupancy, but not an entry, exit, dwell or unique track of the zone.
    min_zone_dwell_s: float = Field(1.0, ge=0)
    # A restarted detect (a new tracker epoch) numbers the people still in view anew: a new track
    # whose first foot point lies within epoch_stitch_distance + epoch_stitch_speed * (time since
    # an old track was last seen) of it (normalised image units, units/s: a brisk walk) continues
    # that old track's visits (services/aggregate/epochs.py).
    epoch_stitch_distance: float = Field(0.05, ge=0)
    epoch_stitch_speed: float = Field(0.5, ge=0)
    # Health reports advance event time (so a silent camera's windows close as unknown);
    # turn off when health report times are not on the capture clock (synthetic replays).
    health_advances_watermark: bool = True
    # State + input offsets are checkpointed to Redis this often (and after every closed window).
    checkpoint_interval_s: float = Field(1.0, gt=0)
    # Redis hash of recent heatmap grids per camera keeps this many windows.
    heatmap_windows_kept: int = Field(60, ge=1)


class AlertSettings(Strict):
    dashboard_url: str = "http://localhost:3000/d/storesight-store-live"
    ack_base_url: str = "http://localhost:8084"
    max_attempts: int = Field(5, ge=1)
    retry_initial_s: float = Field(0.5, gt=0)
    per_recipient_per_hour: int = Field(10, ge=1)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 587
    smtp_starttls: bool = True
    email_from: str = "storesight@localhost"
    # CA bundle to trust for the SMTP server's STARTTLS certificate (a private CA); None = system CAs.
    smtp_ca_file: str | None = None
    # Twilio API base; another URL points the real twilio client at a local emulator or a proxy.
    twilio_base_url: str = Field("https://api.twilio.com", pattern=r"^https?://")
    # Timeout of one delivery attempt (Twilio, SMTP, webhook).
    request_timeout_s: float = Field(10.0, gt=0)
    # How long a replica's claim on sending one incident transition lasts before another may take over.
    claim_ttl_s: float = Field(60.0, gt=0)


class PipelineSettings(Strict):
    """Service settings shared by a region's deployment. Addresses can be overridden by
    KAFKA_BOOTSTRAP, REDIS_URL and DATABASE_URL in the environment."""

    kafka: KafkaSettings = KafkaSettings()
    redis_url: str = "redis://127.0.0.1:6379/0"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/test"
    ingest: IngestSettings = IngestSettings()
    detect: DetectSettings = DetectSettings()
    aggregate: AggregateSettings = AggregateSettings()
    alerts: AlertSettings = AlertSettings()


class Config(Strict):
    """A region's whole configuration: the file a Kubernetes overlay ships as a ConfigMap."""

    region: Id
    pipeline: PipelineSettings = PipelineSettings()
    stores: list[Store] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_across_region(self) -> Config:
        _unique("stores", [s.id for s in self.stores])
        _unique("cameras", [c.id for s in self.stores for c in s.cameras])
        return self

    def store(self, store_id: str) -> Store:
        for store in self.stores:
            if store.id == store_id:
                return store
        raise KeyError(f"no store {store_id!r} in region {self.region!r}")

    def cameras(self) -> Iterator[tuple[Store, Camera]]:
        for store in self.stores:
            for camera in store.cameras:
                yield store, camera

    def camera(self, camera_id: str) -> tuple[Store, Camera]:
        for store, camera in self.cameras():
            if camera.id == camera_id:
                return store, camera
        raise KeyError(f"no camera {camera_id!r} in region {self.region!r}")


class ConfigError(Exception):
    """A configuration file that cannot be used; ``problems`` lists ``path: reason`` lines."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def _format_loc(loc: tuple[str | int, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith("function-after[") or part in ("tuple[float, float]",):
            continue
        else:
            path += f".{part}" if path else part
    return path or "(top level)"


def _clean_message(message: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


def _find_secret_keys(node: object, path: str = "") -> list[str]:
    problems = []
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and any(word in key.lower() for word in SECRET_KEY_WORDS):
                problems.append(f"{here}: secrets are not read from files; set them in the environment "
                                "(see README, 'Secrets')")
            else:
                problems.extend(_find_secret_keys(value, here))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            problems.extend(_find_secret_keys(value, f"{path}[{i}]"))
    return problems


def parse_config(data: object, source: str = "<config>") -> Config:
    """Validate already-parsed YAML/JSON data; raise ConfigError listing every problem."""
    secret_problems = _find_secret_keys(data)
    if secret_problems:
        raise ConfigError(source, secret_problems)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_format_loc(err['loc'])}: {_clean_message(err['msg'])}" for err in exc.errors()]
        raise ConfigError(source, problems) from None


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML config file; raise ConfigError naming every bad key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"(file): cannot read: {exc.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise ConfigError(str(path), [f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), ["(top level): expected a mapping with 'region' and 'stores'"])
    _resolve_relative_sources(data, path.resolve().parent)
    return parse_config(data, str(path))


def _resolve_relative_sources(data: dict, base: Path) -> None:
    """Camera sources (and floor plan images) that are plain relative paths are relative to the config file."""
    for store in data.get("stores") or []:
        plan = store.get("floor_plan") if isinstance(store, dict) else None
        image = plan.get("image") if isinstance(plan, dict) else None
        if isinstance(image, str) and image and not Path(image).is_absolute():
            plan["image"] = str((base / image).resolve())
        for camera in (store or {}).get("cameras") or [] if isinstance(store, dict) else []:
            source = camera.get("source") if isinstance(camera, dict) else None
            if isinstance(source, str) and "://" not in source and not Path(source).is_absolute():
                camera["source"] = str((base / source).resolve())


def json_schema() -> dict:
    """The JSON Schema of the config file, for editors (``storesight config schema``)."""
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "StoreSight region configuration"
    return schema
