"""The aggregation core: per-frame detections in, per-zone window statistics and a live view out.

Plain Python/numpy over plain records (no Kafka, Redis or faust), so the service, the tests and
``storesight analyze`` all feed the same code. One ``Aggregator`` owns the cameras of one input
partition; its state (``AggregatorState``) is a plain picklable object, which is what the
service checkpoints together with the input offsets.

Definitions (the README repeats them):
- Event time: a record belongs to the tumbling window ``floor(capture / window_s)``. The
  watermark is the highest capture (or health report) time seen. A window closes once the
  watermark passes ``window_end + allowed_lateness_s``; records for a closed window are late:
  counted (metric + ``late_records`` of the camera's next closed window), never merged.
- Coverage: a frame at time t covers [t, t + stale_after_s), cut short by a DOWN health report.
  Coverage = covered fraction of the window. 0 -> UNKNOWN (values absent), < 1 -> PARTIAL.
- Occupancy: persons whose foot point is in the zone, per frame; avg/min/max over the window.
- Visits: a track is in a zone from its first frame inside to its last frame inside; it has
  left once seen outside for more than ``zone_exit_grace_s`` (or gone for ``track_gone_s``).
  Dwell = last inside - first inside. A visit counts once it has lasted ``min_zone_dwell_s``
  (shorter ones are pass-bys: in the occupancy only): zone entries count visits reaching that
  dwell, in the window where they reach it; exits count counted visits ending.
- Queues (kind ``queue``): length = occupancy. A visit that ends with the track later seen in
  the ``serves`` zone (the till) was served (without ``serves``, every completed visit is).
  Throughput = served / covered time; Little's law wait = avg length / throughput; measured
  wait = mean dwell of served visits.
- Visitors: per camera view, a track counts once when it has been seen for min_visit_dwell_s;
  lines count entries/exits as ``line:<id>`` records; the view as ``camera:<id>``.
- Attributes (opt-in sentiment): detect's k-anonymous groups ride on frame records and go,
  whole, with the window and zone they name; groups of the same zone and window are merged
  (``attributes.py`` has the rule). A group for a closed window is late, like a record.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from services.aggregate.attributes import merge, rejection, window_of
from services.aggregate.geometry import LineSet, PolygonSet, bit_masks
from services.aggregate.lines import ENTRY, LineCrossings
from services.aggregate.queues import littles_law_wait, percentile, throughput_per_min, union_length
from storesight.attributes import AttributeGroup
from storesight.config import AggregateSettings, Config

log = logging.getLogger(__name__)

OK, PARTIAL, UNKNOWN = "OK", "PARTIAL", "UNKNOWN"
FULL_COVERAGE = 0.999


# ---------------------------------------------------------------- records in


@dataclass
class FrameRecord:
    """Detections of one frame: track ids (0 = untracked) and foot points [(x, y)], normalised.

    Plain lists (numpy arrays are accepted too): the aggregator builds its arrays per batch.
    ``attributes``: the k-anonymous groups detect finished with this frame (usually none).
    """

    camera_id: str
    capture_s: float
    track_ids: list[int]
    feet: list[tuple[float, float]]
    frame_seq: int = 0
    attributes: list[AttributeGroup] = field(default_factory=list)

    @classmethod
    def of(cls, camera_id: str, capture_s: float, persons: Iterable[tuple[int, float, float]],
           frame_seq: int = 0) -> FrameRecord:
        """Build from (track_id, foot_x, foot_y) tuples."""
        rows = list(persons)
        return cls(camera_id, capture_s, [int(p[0]) for p in rows], [(p[1], p[2]) for p in rows], frame_seq)


@dataclass
class HealthRecord:
    camera_id: str
    report_s: float
    up: bool


# ---------------------------------------------------------------- records out


@dataclass
class WindowStats:
    """One zone (or ``line:<id>`` / ``camera:<id>``) over one window; None = unknown."""

    store_id: str
    zone_id: str
    zone_kind: str
    window_start: float
    window_end: float
    status: str
    coverage: float
    live: bool = False
    occupancy_avg: float | None = None
    occupancy_min: int | None = None
    occupancy_max: int | None = None
    entries: int | None = None
    exits: int | None = None
    unique_tracks: int | None = None
    dwell_p50_s: float | None = None
    dwell_p90_s: float | None = None
    dwell_max_s: float | None = None
    queue_length: float | None = None
    wait_estimate_s: float | None = None
    wait_measured_s: float | None = None
    throughput_per_min: float | None = None
    late_records: int = 0
    attributes: AttributeGroup | None = None  # merged k-anonymous group of this zone and window


@dataclass
class HeatmapWindow:
    camera_id: str
    store_id: str
    window_start: float
    window_end: float
    counts: np.ndarray  # (grid_y, grid_x) foot points per cell


@dataclass
class Visit:
    """A completed stay of one track in one zone (``zone_id`` = ``camera:<id>`` for the view)."""

    camera_id: str
    zone_id: str
    track_id: int
    start_s: float
    end_s: float
    served: bool | None = None

    @property
    def dwell_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class LiveZone:
    store_id: str
    zone_id: str
    zone_kind: str
    status: str  # "ok" | "unknown"
    capture_s: float | None
    occupancy: int | None
    queue_length: int | None = None
    wait_estimate_s: float | None = None


# ---------------------------------------------------------------- static model from config


@dataclass
class CameraModel:
    store_id: str
    camera_id: str
    zone_ids: list[str]
    zone_kinds: list[str]
    serves: list[int | None]  # queue zone -> index of its till zone
    line_ids: list[str]
    polygons: PolygonSet
    lines: LineSet
    attributes_k: int | None = None  # k of the store when the camera opted in to attributes, else None

    @classmethod
    def from_config(cls, store_id: str, camera, attributes_k: int | None = None) -> CameraModel:
        ids = [z.id for z in camera.zones]
        return cls(
            store_id=store_id,
            camera_id=camera.id,
            zone_ids=ids,
            zone_kinds=[z.kind.value for z in camera.zones],
            serves=[ids.index(z.serves) if z.serves else None for z in camera.zones],
            line_ids=[ln.id for ln in camera.lines],
            polygons=PolygonSet([z.polygon for z in camera.zones]),
            lines=LineSet([(ln.a, ln.b, ln.in_point) for ln in camera.lines]),
            attributes_k=attributes_k,
        )


# ---------------------------------------------------------------- state (picklable)


@dataclass
class Window:
    start: float
    zones: int
    lines: int
    grid: tuple[int, int]
    frames: int = 0
    occ_sum: list[int] = field(default_factory=list)
    occ_min: list[int] = field(default_factory=list)
    occ_max: list[int] = field(default_factory=list)
    zone_tracks: list[set] = field(default_factory=list)
    entries: list[int] = field(default_factory=list)
    exits: list[int] = field(default_factory=list)
    dwells: list[list[float]] = field(default_factory=list)
    served: list[int] = field(default_factory=list)
    waits: list[list[float]] = field(default_factory=list)
    line_entries: list[int] = field(default_factory=list)
    line_exits: list[int] = field(default_factory=list)
    visitors: int = 0
    heat: list[int] = field(default_factory=list)  # flat (grid_y * grid_x) foot-point counts
    # zone slot -> merged attribute group; None (not {}) so checkpoints from before this field load
    attributes: dict[int, AttributeGroup] | None = None

    def __post_init__(self) -> None:
        n = self.zones + 1  # the last slot is the whole camera view
        self.occ_sum, self.occ_min, self.occ_max = [0] * n, [math.inf] * n, [0] * n
        self.zone_tracks = [set() for _ in range(n)]
        self.entries, self.exits = [0] * n, [0] * n
        self.dwells = [[] for _ in range(n)]
        self.served, self.waits = [0] * n, [[] for _ in range(n)]
        self.line_entries, self.line_exits = [0] * self.lines, [0] * self.lines
        self.heat = [0] * (self.grid[0] * self.grid[1])


@dataclass
class Track:
    first_seen: float
    last_seen: float
    zones: int
    visit_start: list[float | None] = field(default_factory=list)
    last_in: list[float | None] = field(default_factory=list)
    counted_visitor: bool = False

    def __post_init__(self) -> None:
        self.visit_start = [None] * self.zones
        self.last_in = [None] * self.zones


@dataclass
class CameraState:
    next_close: float | None = None
    windows: dict[float, Window] = field(default_factory=dict)
    frame_times: list[float] = field(default_factory=list)
    down_times: list[float] = field(default_factory=list)
    up: bool | None = None
    tracks: dict[int, Track] = field(default_factory=dict)
    crossings: LineCrossings | None = None
    live_capture: float | None = None
    live_counts: list[int] = field(default_factory=list)
    late_pending: int = 0
    # served per second of the last closed window, per zone (live wait estimate)
    last_rate: list[float | None] = field(default_factory=list)


@dataclass
class AggregatorState:
    watermark: float = -math.inf
    cameras: dict[str, CameraState] = field(default_factory=dict)
    late_total: dict[str, int] = field(default_factory=dict)  # store -> late records
    line_totals: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (store, line) -> [in, out]
    records: int = 0
    last_sweep: float = -math.inf
    close_due: float = -math.inf  # watermark at which the next window closes


# ---------------------------------------------------------------- the aggregator


class Aggregator:
    """Feeds frames and health records through zones, lines, tracks and event-time windows.

    ``process(records)`` returns what closed (WindowStats, HeatmapWindow); ``live()`` the
    current per-zone view. ``on_visit`` (optional) sees every completed visit.
    """

    def __init__(self, config: Config, settings: AggregateSettings | None = None,
                 state: AggregatorState | None = None, on_visit: Callable[[Visit], None] | None = None):
        self.settings = settings or config.pipeline.aggregate
        # The same double opt-in as detect: the store's privacy switch and the camera's own.
        self.models = {c.id: CameraModel.from_config(
            s.id, c, s.privacy.k_anonymity if s.privacy.attributes_enabled and c.attributes_enabled else None)
            for s, c in config.cameras()}
        self.state = state or AggregatorState()
        self.on_visit = on_visit
        self.unknown_cameras = 0
        self.dropped_groups: Counter = Counter()  # (store, reason) -> attribute groups not published

    # ------------------------------------------------------------ input

    def process(self, records: Iterable[FrameRecord | HealthRecord]) -> list:
        """Apply records in order; return the windows (and heatmaps) that closed.

        The geometry of all frames of a camera in the batch is computed in one numpy pass; the
        records are then applied strictly in order, so the result never depends on how the input
        was cut into batches (a replay after a restart gives the same state).
        """
        out: list = []
        batch = list(records)
        geometry = self._batch_geometry(batch)
        for index, rec in enumerate(batch):
            if isinstance(rec, HealthRecord):
                self._health(rec)
                self._advance(rec.report_s if self.settings.health_advances_watermark else None, out)
                continue
            model = self.models.get(rec.camera_id)
            if model is None:
                self.unknown_cameras += 1
                continue
            self.state.records += 1
            cam = self._camera(model)
            self._frame(model, cam, rec, *geometry[index])
            if rec.attributes:
                self._attributes(model, cam, rec.attributes)
            self._advance(rec.capture_s, out)
        return out

    def _batch_geometry(self, batch: list) -> dict[int, tuple]:
        """index -> (zone counts + view count, zone bit masks, line sides, heat cells), per person.

        Everything handed back is plain Python ints in flat lists: the per-frame code then
        never touches numpy scalars or rows of bools, which cost more than the geometry itself.
        """
        per_camera: dict[str, list[int]] = {}
        for index, rec in enumerate(batch):
            if isinstance(rec, FrameRecord) and rec.camera_id in self.models:
                per_camera.setdefault(rec.camera_id, []).append(index)
        gx, gy = self.settings.heatmap_grid
        result: dict[int, tuple] = {}
        for camera_id, indices in per_camera.items():
            model = self.models[camera_id]
            frames = [batch[i] for i in indices]
            sizes = [len(f.feet) for f in frames]
            rows: list = []
            for f in frames:
                rows.extend(f.feet if isinstance(f.feet, list) else np.asarray(f.feet).tolist())
            feet = np.array(rows, dtype=np.float64).reshape(-1, 2)
            inside = model.polygons.contains(feet)
            masks = bit_masks(inside)
            bounds = list(itertools.accumulate(sizes, initial=0))  # plain ints: cheap to slice with
            counts = np.zeros((len(frames), inside.shape[1]), dtype=np.int64)
            nonempty = np.asarray(sizes) > 0
            if nonempty.any():
                starts = np.asarray(bounds[:-1])[nonempty]
                counts[nonempty] = np.add.reduceat(inside.astype(np.int64), starts, axis=0)
            counts = np.concatenate([counts, np.asarray(sizes)[:, None]], axis=1).tolist()
            sides = model.lines.sides(feet, self.settings.line_debounce_px).tolist() if model.lines.count else None
            ix = np.minimum(np.maximum((feet[:, 0] * gx).astype(np.intp), 0), gx - 1)
            iy = np.minimum(np.maximum((feet[:, 1] * gy).astype(np.intp), 0), gy - 1)
            cells = (iy * gx + ix).tolist()
            for k, index in enumerate(indices):
                a, b = bounds[k], bounds[k + 1]
                result[index] = (counts[k], masks[a:b], None if sides is None else sides[a:b], cells[a:b])
        return result

    def _camera(self, model: CameraModel) -> CameraState:
        cam = self.state.cameras.get(model.camera_id)
        if cam is None:
            cam = CameraState(crossings=LineCrossings(self.settings.line_max_speed, self.settings.line_min_step_s),
                              live_counts=[0] * (len(model.zone_ids) + 1),
                              last_rate=[None] * len(model.zone_ids))
            self.state.cameras[model.camera_id] = cam
        return cam

    def _window_start(self, t: float) -> float:
        w = self.settings.window_s
        return math.floor(t / w) * w

    def _window(self, model: CameraModel, cam: CameraState, t: float, late_ok: bool = False) -> Window:
        """The open window holding time t; with ``late_ok``, the oldest open one if t's has closed
        (a visit decided after its window closed still counts once, in the next window)."""
        start = self._window_start(t)
        if cam.next_close is not None and start < cam.next_close:
            if not late_ok:
                raise LookupError("window closed")
            start = cam.next_close
        win = cam.windows.get(start)
        if win is None:
            win = Window(start, len(model.zone_ids), len(model.line_ids), self.settings.heatmap_grid)
            cam.windows[start] = win
        return win

    def _frame(self, model: CameraModel, cam: CameraState, frame: FrameRecord, counts: list[int],
               masks: list[int], sides: list[list[int]] | None, cells: list[int]) -> None:
        t = frame.capture_s
        if cam.next_close is None:
            cam.next_close = self._window_start(t)
            self.state.close_due = -math.inf  # a new camera: recompute when its first window closes
        if self._window_start(t) < cam.next_close:
            cam.late_pending += 1
            self.state.late_total[model.store_id] = self.state.late_total.get(model.store_id, 0) + 1
            return
        win = self._window(model, cam, t)
        bisect.insort(cam.frame_times, t)
        nz = len(model.zone_ids)
        win.frames += 1
        for z in range(nz + 1):
            c = counts[z]
            win.occ_sum[z] += c
            if c < win.occ_min[z]:
                win.occ_min[z] = c
            if c > win.occ_max[z]:
                win.occ_max[z] = c
        heat = win.heat
        for cell in cells:
            heat[cell] += 1
        if cam.live_capture is None or t >= cam.live_capture:
            cam.live_capture = t
            cam.live_counts = counts
        ids = frame.track_ids if isinstance(frame.track_ids, list) else np.asarray(frame.track_ids).tolist()
        for k, track_id in enumerate(ids):
            if track_id == 0:
                continue
            track = cam.tracks.get(track_id)
            if track is not None and t - track.last_seen > self.settings.track_gone_s:
                self._end_track(model, cam, track_id, track)
                track = None
            if track is None:
                track = Track(t, t, nz)
                cam.tracks[track_id] = track
            elif t < track.last_seen:
                continue  # out of order for this track: counted in occupancy, not in its path
            track.last_seen = t
            win.zone_tracks[nz].add(track_id)
            if not track.counted_visitor and t - track.first_seen >= self.settings.min_visit_dwell_s:
                track.counted_visitor = True
                win.visitors += 1
            mask = masks[k]
            if mask:
                min_stay = self.settings.min_zone_dwell_s
                for z in range(nz):
                    if mask >> z & 1:
                        start = track.visit_start[z]
                        if start is None:
                            track.visit_start[z] = start = t
                            stayed_before = -math.inf
                        else:
                            stayed_before = track.last_in[z] - start
                        if t - start >= min_stay:
                            win.zone_tracks[z].add(track_id)
                            if stayed_before < min_stay:
                                win.entries[z] += 1  # the stay just became long enough to count
                        track.last_in[z] = t
            # Zones the track is no longer in (after every zone it is in was updated above, so a
            # queue visit ending now sees this frame at the till).
            for z in range(nz):
                if track.visit_start[z] is not None and not mask >> z & 1 \
                        and t - track.last_in[z] > self.settings.zone_exit_grace_s:
                    self._end_visit(model, cam, track_id, track, z)
            if sides is not None:
                cam.crossings.move(track_id, t, frame.feet[k])  # a teleport splits the track's crossings
                for ln, side in enumerate(sides[k]):
                    if not side:
                        continue  # in the debounce band or beside the segment
                    crossed = cam.crossings.observe(ln, track_id, side)
                    if crossed is not None:
                        totals = self.state.line_totals.setdefault((model.store_id, model.line_ids[ln]), [0, 0])
                        if crossed == ENTRY:
                            win.line_entries[ln] += 1
                            totals[0] += 1
                        else:
                            win.line_exits[ln] += 1
                            totals[1] += 1

    def _attributes(self, model: CameraModel, cam: CameraState, groups: list[AttributeGroup]) -> None:
        """Merge each group, whole, into its zone's slot of its window; drop (and count) what does not fit."""
        nz = len(model.zone_ids)
        for group in groups:
            reason = rejection(group, model.attributes_k)
            start = window_of(group, self.settings.window_s) if reason is None else None
            if reason is None and start is None:
                reason = "spans_windows"
            slot = nz if group.zone_id == "" else (model.zone_ids.index(group.zone_id)
                                                   if group.zone_id in model.zone_ids else None)
            if reason is None and slot is None:
                reason = "unknown_zone"
            if reason is None and start < cam.next_close:
                reason = "late"
                cam.late_pending += 1
                self.state.late_total[model.store_id] = self.state.late_total.get(model.store_id, 0) + 1
            if reason is not None:
                self.dropped_groups[(model.store_id, reason)] += 1
                # Where and why only: never a label or a count.
                log.warning("attribute group dropped", extra={"store": model.store_id, "camera": model.camera_id,
                                                             "zone": group.zone_id, "reason": reason})
                continue
            win = self._window(model, cam, start)
            if win.attributes is None:
                win.attributes = {}
            win.attributes[slot] = merge(win.attributes.get(slot), group)

    def _end_visit(self, model: CameraModel, cam: CameraState, track_id: int, track: Track, z: int) -> None:
        start, end = track.visit_start[z], track.last_in[z]
        track.visit_start[z] = None
        if end - start < self.settings.min_zone_dwell_s:
            return  # a pass-by: it never counted as an entry, so no exit, dwell or wait either
        till = model.serves[z]
        served = None
        if model.zone_kinds[z] == "queue":
            served = till is None or (track.last_in[till] is not None and track.last_in[till] >= end)
        win = self._window(model, cam, end, late_ok=True)
        win.exits[z] += 1
        win.dwells[z].append(end - start)
        if served:
            win.served[z] += 1
            win.waits[z].append(end - start)
        if self.on_visit is not None:
            self.on_visit(Visit(model.camera_id, model.zone_ids[z], track_id, start, end, served))

    def _end_track(self, model: CameraModel, cam: CameraState, track_id: int, track: Track) -> None:
        # Close queue visits last so a till visit closing at the same time is already recorded.
        order = sorted(range(len(model.zone_ids)), key=lambda z: model.zone_kinds[z] == "queue")
        for z in order:
            if track.visit_start[z] is not None:
                self._end_visit(model, cam, track_id, track, z)
        nz = len(model.zone_ids)
        win = self._window(model, cam, track.last_seen, late_ok=True)
        win.dwells[nz].append(track.last_seen - track.first_seen)
        if self.on_visit is not None:
            self.on_visit(Visit(model.camera_id, f"camera:{model.camera_id}", track_id,
                                track.first_seen, track.last_seen))
        cam.crossings.forget(track_id)
        del cam.tracks[track_id]

    def _health(self, rec: HealthRecord) -> None:
        model = self.models.get(rec.camera_id)
        if model is None:
            self.unknown_cameras += 1
            return
        cam = self._camera(model)
        cam.up = rec.up
        if not rec.up:
            bisect.insort(cam.down_times, rec.report_s)

    # ------------------------------------------------------------ time

    def advance(self, watermark: float) -> list:
        """Move event time forward without data (e.g. from health reports); return what closed."""
        out: list = []
        self._advance(watermark, out)
        return out

    def _advance(self, t: float | None, out: list) -> None:
        if t is not None and t > self.state.watermark:
            self.state.watermark = t
        wm = self.state.watermark
        if wm - self.state.last_sweep >= min(0.5, self.settings.track_gone_s / 2):
            self.state.last_sweep = wm
            for camera_id, cam in self.state.cameras.items():
                model = self.models[camera_id]
                now = self._camera_clock(cam, wm)
                for track_id, track in list(cam.tracks.items()):
                    if now - track.last_seen > self.settings.track_gone_s:
                        self._end_track(model, cam, track_id, track)
        if wm < self.state.close_due:
            return
        w, lateness = self.settings.window_s, self.settings.allowed_lateness_s
        due = math.inf
        for camera_id, cam in self.state.cameras.items():
            while cam.next_close is not None and cam.next_close + w + lateness <= wm:
                self._close(self.models[camera_id], cam, cam.next_close, out)
                cam.next_close += w
            if cam.next_close is not None:
                due = min(due, cam.next_close + w + lateness)
        self.state.close_due = due

    def _camera_clock(self, cam: CameraState, wm: float) -> float:
        """The time a camera's tracks are judged gone at: its own newest frame while it sends
        frames, so a detector running the camera slowly (1 frame/s) or late never ends a visit
        between two of its frames because other cameras or health reports moved the watermark on;
        the watermark once it is down or silent for ``stale_after_s``."""
        if cam.live_capture is None or cam.up is False or wm - cam.live_capture > self.settings.stale_after_s:
            return wm
        return cam.live_capture

    def flush(self) -> list:
        """End of input (a file): end every track and close every window that has data."""
        out: list = []
        for camera_id, cam in self.state.cameras.items():
            model = self.models[camera_id]
            for track_id, track in list(cam.tracks.items()):
                self._end_track(model, cam, track_id, track)
        for camera_id, cam in self.state.cameras.items():
            while cam.next_close is not None and cam.windows:
                self._close(self.models[camera_id], cam, cam.next_close, out)
                cam.next_close += self.settings.window_s
        return out

    # ------------------------------------------------------------ closing a window

    def _coverage(self, cam: CameraState, start: float, end: float) -> float:
        stale = self.settings.stale_after_s
        lo = bisect.bisect_left(cam.frame_times, start - stale)
        hi = bisect.bisect_left(cam.frame_times, end)
        intervals = []
        for t in cam.frame_times[lo:hi]:
            cut = t + stale
            d = bisect.bisect_right(cam.down_times, t)
            if d < len(cam.down_times):
                cut = min(cut, cam.down_times[d])
            intervals.append((t, cut))
        return union_length(intervals, start, end) / (end - start)

    def _close(self, model: CameraModel, cam: CameraState, start: float, out: list) -> None:
        end = start + self.settings.window_s
        win = cam.windows.pop(start, None) or Window(start, len(model.zone_ids), len(model.line_ids),
                                                     self.settings.heatmap_grid)
        # No frame inside the window means no observation at all: unknown, whatever came before.
        coverage = self._coverage(cam, start, end) if win.frames else 0.0
        covered_s = coverage * (end - start)
        status = UNKNOWN if coverage <= 0 else (OK if coverage >= FULL_COVERAGE else PARTIAL)
        late, cam.late_pending = cam.late_pending, 0
        known = status != UNKNOWN
        nz = len(model.zone_ids)
        attributes = win.attributes or {}

        def stats(zone_id: str, kind: str, **values) -> WindowStats:
            values = values if known else {}
            return WindowStats(model.store_id, zone_id, kind, start, end, status, coverage,
                               late_records=late, **values)

        for z in range(nz + 1):
            is_view = z == nz
            zone_id = f"camera:{model.camera_id}" if is_view else model.zone_ids[z]
            kind = "camera" if is_view else model.zone_kinds[z]
            dwells = win.dwells[z]
            values = {}
            if known:
                avg = win.occ_sum[z] / win.frames
                values = dict(occupancy_avg=avg, occupancy_min=int(win.occ_min[z]), occupancy_max=win.occ_max[z],
                              unique_tracks=win.visitors if is_view else len(win.zone_tracks[z]),
                              entries=sum(win.line_entries) if is_view else win.entries[z],
                              exits=sum(win.line_exits) if is_view else win.exits[z],
                              dwell_p50_s=percentile(dwells, 50), dwell_p90_s=percentile(dwells, 90),
                              dwell_max_s=max(dwells) if dwells else None)
                if kind == "queue":
                    served = win.served[z]
                    values.update(queue_length=avg, wait_estimate_s=littles_law_wait(avg, served, covered_s),
                                  wait_measured_s=(sum(win.waits[z]) / len(win.waits[z])) if win.waits[z] else None,
                                  throughput_per_min=throughput_per_min(served, covered_s))
                    cam.last_rate[z] = served / covered_s if covered_s > 0 else None
            elif not is_view:
                cam.last_rate[z] = None
            record = stats(zone_id, kind, **values)
            # Counts detect already made k-anonymous: published whatever the window's coverage.
            record.attributes = attributes.get(z)
            out.append(record)
        for ln, line_id in enumerate(model.line_ids):
            values = dict(entries=win.line_entries[ln], exits=win.line_exits[ln])
            out.append(stats(f"line:{line_id}", "line", **values))
        if known:
            gx, gy = self.settings.heatmap_grid
            out.append(HeatmapWindow(model.camera_id, model.store_id, start, end,
                                     np.asarray(win.heat, dtype=np.int64).reshape(gy, gx)))
        # Forget frame times no later window can need.
        keep_from = end - self.settings.stale_after_s
        del cam.frame_times[:bisect.bisect_left(cam.frame_times, keep_from)]
        del cam.down_times[:bisect.bisect_left(cam.down_times, keep_from)]

    # ------------------------------------------------------------ live view

    def live(self, camera_ids: Iterable[str] | None = None) -> list[LiveZone]:
        """Current occupancy per zone from each camera's latest frame; unknown when stale or down."""
        result = []
        ids = self.state.cameras if camera_ids is None else camera_ids
        for camera_id in ids:
            cam = self.state.cameras.get(camera_id)
            model = self.models.get(camera_id)
            if cam is None or model is None:
                continue
            fresh = (cam.live_capture is not None and cam.up is not False
                     and self.state.watermark - cam.live_capture <= self.settings.stale_after_s)
            for z in range(len(model.zone_ids) + 1):
                is_view = z == len(model.zone_ids)
                zone_id = f"camera:{camera_id}" if is_view else model.zone_ids[z]
                kind = "camera" if is_view else model.zone_kinds[z]
                if not fresh:
                    result.append(LiveZone(model.store_id, zone_id, kind, "unknown", cam.live_capture, None))
                    continue
                occ = cam.live_counts[z]
                zone = LiveZone(model.store_id, zone_id, kind, "ok", cam.live_capture, occ)
                if kind == "queue":
                    zone.queue_length = occ
                    rate = cam.last_rate[z]
                    zone.wait_estimate_s = 0.0 if occ == 0 else (occ / rate if rate else None)
                result.append(zone)
        return result
