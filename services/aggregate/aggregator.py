"""The aggregator: per-frame detections in, per-zone window statistics and a live view out.

A thin composition, per frame, of the ideas that have their own modules: the geometry pass
(``geometry``), zone occupancy (``occupancy``), visits and dwell (``visits``), line crossings
(``lines``, ``line_counts``), heat (``heat``), queues (``queues``), event-time windows and
coverage (``windows``) and detect's attribute groups (``attributes``). Plain Python/numpy over
plain records (no Kafka, Redis or faust), so the service, the tests and ``storesight analyze``
all feed the same code. One ``Aggregator`` owns the cameras of one input partition; its state
(``state.AggregatorState``) is plain data, which the service checkpoints with the input offsets.

Event time, per camera: a record belongs to the tumbling window ``floor(capture / window_s)``.
Each camera has its own watermark: the highest capture (or health report) time of that camera.
A camera's window (of each of its zones and lines) closes once the camera's watermark passes
``window_end + allowed_lateness_s``; records for a closed window are late: counted (metric +
``late_records`` of the camera's next closed window), never merged. So cameras that share an
input partition never close each other's windows: a camera running behind another one gives
exactly the windows it would give alone. The README has the definitions of every value.

>>> from storesight.config import parse_config
>>> config = parse_config({"region": "r", "pipeline": {"aggregate": {"window_s": 10}},
...     "stores": [{"id": "s", "timezone": "UTC", "cameras": [{"id": "cam", "source": "x.mp4",
...     "zones": [{"id": "shelf", "kind": "aisle", "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}]}]}]})
>>> aggregator = Aggregator(config)
>>> frames = [FrameRecord.of("cam", t / 2, [(1, 0.25, 0.5), (2, 0.75, 0.5)]) for t in range(42)]
>>> closed = aggregator.process(frames)          # t = 20.5 s closes [0, 10) (lateness 10 s)
>>> [(w.zone_id, w.status, w.occupancy_avg) for w in closed if isinstance(w, WindowStats)]
[('shelf', 'OK', 1.0), ('camera:cam', 'OK', 2.0)]
>>> [(z.zone_id, z.occupancy) for z in aggregator.live()]
[('shelf', 1), ('camera:cam', 2)]
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable

from services.aggregate.attributes import merge, rejection, window_of
from services.aggregate.epochs import EpochState, EpochStitcher
from services.aggregate.geometry import frame_geometry
from services.aggregate.lines import ENTRY, LineCrossings
from services.aggregate.model import CameraModel
from services.aggregate.records import (
    UNKNOWN,
    FrameRecord,
    HealthRecord,
    HeatmapWindow,
    LiveZone,
    WindowStats,
)
from services.aggregate.state import AggregatorState, CameraState, Window
from services.aggregate.visits import Visit
from services.aggregate.windows import status_of, window_start
from storesight.attributes import AttributeGroup
from storesight.config import AggregateSettings, Config

log = logging.getLogger(__name__)


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
            s.id, c, self.settings,
            s.privacy.k_anonymity if s.privacy.attributes_enabled and c.attributes_enabled else None)
            for s, c in config.cameras()}
        self.state = state or AggregatorState()
        self.on_visit = on_visit
        self.unknown_cameras = 0
        self.dropped_groups: Counter = Counter()  # (store, reason) -> attribute groups not published
        self.stitcher = EpochStitcher(self.settings.epoch_stitch_distance, self.settings.epoch_stitch_speed,
                                      self.settings.track_gone_s)

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
            model = self.models.get(rec.camera_id)
            if model is None:
                self.unknown_cameras += 1
                continue
            cam = self._camera(model)
            if isinstance(rec, HealthRecord):
                self._health(cam, rec)
                self._advance(model, cam, rec.report_s if self.settings.health_advances_watermark else None, out)
                continue
            epochs = cam.__dict__.get("epochs")
            if epochs is None:  # a checkpoint from before epochs
                epochs = cam.epochs = EpochState()
            ids = self.stitcher.frame(epochs, rec.epoch, rec.capture_s, rec.track_ids, rec.feet, cam.tracks)
            if ids is None:
                continue  # a restarted detect's replay of a frame already aggregated: counted
            self.state.records += 1
            self._frame(model, cam, rec, ids, *geometry[index])
            if rec.attributes:
                self._attributes(model, cam, rec.attributes)
            self._advance(model, cam, rec.capture_s, out)
        return out

    def _batch_geometry(self, batch: list) -> dict[int, tuple]:
        """index -> ``geometry.frame_geometry`` of that frame, one numpy pass per camera."""
        per_camera: dict[str, list[int]] = {}
        for index, rec in enumerate(batch):
            if isinstance(rec, FrameRecord) and rec.camera_id in self.models:
                per_camera.setdefault(rec.camera_id, []).append(index)
        result: dict[int, tuple] = {}
        for camera_id, indices in per_camera.items():
            model = self.models[camera_id]
            per_frame = frame_geometry([batch[i].feet for i in indices], model.polygons, model.lines,
                                       self.settings.line_debounce_px, self.settings.heatmap_grid)
            result.update(zip(indices, per_frame, strict=True))
        return result

    def _camera(self, model: CameraModel) -> CameraState:
        cam = self.state.cameras.get(model.camera_id)
        if cam is None:
            cam = CameraState(crossings=LineCrossings(self.settings.line_max_speed, self.settings.line_min_step_s),
                              live_counts=[0] * (len(model.zone_ids) + 1),
                              last_rate=[None] * len(model.zone_ids))
            self.state.cameras[model.camera_id] = cam
        return cam

    def _window(self, model: CameraModel, cam: CameraState, t: float, late_ok: bool = False) -> Window:
        """The open window holding time t; with ``late_ok``, the oldest open one if t's has closed
        (a visit decided after its window closed still counts once, in the next window)."""
        start = window_start(t, self.settings.window_s)
        if cam.next_close is not None and start < cam.next_close:
            if not late_ok:
                raise LookupError("window closed")
            start = cam.next_close
        win = cam.windows.get(start)
        if win is None:
            win = Window.empty(start, len(model.zone_ids), len(model.line_ids), self.settings.heatmap_grid)
            cam.windows[start] = win
        return win

    def _late(self, model: CameraModel, cam: CameraState) -> None:
        cam.late_pending += 1
        self.state.late_total[model.store_id] = self.state.late_total.get(model.store_id, 0) + 1

    def _frame(self, model: CameraModel, cam: CameraState, frame: FrameRecord, ids: list[int], counts: list[int],
               masks: list[int], sides: list[list[int]] | None, cells: list[int]) -> None:
        t = frame.capture_s
        start = window_start(t, self.settings.window_s)
        if cam.next_close is None:
            cam.next_close = start
        if start < cam.next_close:
            self._late(model, cam)
            return
        win = cam.windows.get(start) or self._window(model, cam, t)
        cam.coverage.add_frame(t)
        win.occupancy.add(counts)
        win.heat.add(cells)
        if cam.live_capture is None or t >= cam.live_capture:
            cam.live_capture = t
            cam.live_counts = counts
            cam.effective_fps = frame.effective_fps
        accepted, ended = model.visits.observe(cam.tracks, t, ids, masks, win.visits)
        if ended:
            self._book(model, cam, ended)
        if sides is not None:
            observe, move = cam.crossings.observe, cam.crossings.move
            for k, track_id in accepted:
                move(track_id, t, frame.feet[k])  # a teleport splits the track's crossings
                for ln, side in enumerate(sides[k]):
                    if not side:
                        continue  # in the debounce band or beside the segment
                    crossed = observe(ln, track_id, side)
                    if crossed is not None:
                        self._count_crossing(model, win, ln, crossed)

    def _count_crossing(self, model: CameraModel, win: Window, line: int, crossed: str) -> None:
        win.lines.count(line, crossed)
        totals = self.state.line_totals.setdefault((model.store_id, model.line_ids[line]), [0, 0])
        totals[0 if crossed == ENTRY else 1] += 1

    def _book(self, model: CameraModel, cam: CameraState, ended: list[tuple[int, Visit]]) -> None:
        """Ended visits go to the window of their end (the oldest open one if that has closed)."""
        view = len(model.zone_ids)
        for slot, visit in ended:
            win = self._window(model, cam, visit.end_s, late_ok=True)
            win.visits.book(slot, visit)
            if slot == view:  # the track ended: on the side of each line where it was last seen
                last = cam.crossings.last_position(visit.track_id) if model.line_ids else None
                sides = model.lines.sides([last], 0.0)[0].tolist() if last is not None else []
                for line, crossed in cam.crossings.finish(visit.track_id, sides):
                    self._count_crossing(model, win, line, crossed)
            if self.on_visit is not None:
                self.on_visit(visit)

    def _attributes(self, model: CameraModel, cam: CameraState, groups: list[AttributeGroup]) -> None:
        """Merge each group, whole, into its zone's slot of its window; drop (and count) what does not fit."""
        for group in groups:
            reason = rejection(group, model.attributes_k)
            start = window_of(group, self.settings.window_s) if reason is None else None
            if reason is None and start is None:
                reason = "spans_windows"
            slot = model.slot(group.zone_id)
            if reason is None and slot is None:
                reason = "unknown_zone"
            if reason is None and start < cam.next_close:
                reason = "late"
                self._late(model, cam)
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

    def _health(self, cam: CameraState, rec: HealthRecord) -> None:
        cam.up = rec.up
        if not rec.up:
            cam.coverage.add_down(rec.report_s)

    # ------------------------------------------------------------ time

    def advance(self, watermark: float) -> list:
        """Move every camera's event time forward to ``watermark`` without data; return what closed."""
        out: list = []
        for camera_id, cam in self.state.cameras.items():
            self._advance(self.models[camera_id], cam, watermark, out)
        return out

    def _advance(self, model: CameraModel, cam: CameraState, t: float | None, out: list) -> None:
        """Move one camera's watermark to ``t`` (if later): end its gone tracks, close its due windows."""
        if t is not None and t > cam.watermark:
            cam.watermark = t
            if t > self.state.watermark:
                self.state.watermark = t
        wm = cam.watermark
        if wm - cam.last_sweep >= min(0.5, self.settings.track_gone_s / 2):
            cam.last_sweep = wm
            ended = model.visits.end_gone(cam.tracks, self._camera_clock(cam, wm))
            if ended:
                self._book(model, cam, ended)
        w = self.settings.window_s
        due = w + self.settings.allowed_lateness_s
        while cam.next_close is not None and cam.next_close + due <= wm:
            self._close(model, cam, cam.next_close, out)
            cam.next_close += w

    def _camera_clock(self, cam: CameraState, wm: float) -> float:
        """The time a camera's tracks are judged gone at: its own newest frame while it sends
        frames, so a detector running the camera slowly (1 frame/s) or late never ends a visit
        between two of its frames because health reports moved the camera's watermark on;
        the watermark once it is down or silent for ``stale_after_s``."""
        if cam.live_capture is None or cam.up is False or wm - cam.live_capture > self.settings.stale_after_s:
            return wm
        return cam.live_capture

    def flush(self) -> list:
        """End of input (a file): end every track and close every window that has data."""
        out: list = []
        for camera_id, cam in self.state.cameras.items():
            model = self.models[camera_id]
            for track_id in list(cam.tracks):
                self._book(model, cam, model.visits.end_track(cam.tracks, track_id))
        for camera_id, cam in self.state.cameras.items():
            while cam.next_close is not None and cam.windows:
                self._close(self.models[camera_id], cam, cam.next_close, out)
                cam.next_close += self.settings.window_s
        return out

    # ------------------------------------------------------------ closing a window

    def _close(self, model: CameraModel, cam: CameraState, start: float, out: list) -> None:
        end = start + self.settings.window_s
        nz = len(model.zone_ids)
        win = cam.windows.pop(start, None) or Window.empty(start, nz, len(model.line_ids),
                                                           self.settings.heatmap_grid)
        # No frame inside the window means no observation at all: unknown, whatever came before.
        coverage = cam.coverage.fraction(start, end, self.settings.stale_after_s) if win.frames else 0.0
        covered_s = coverage * (end - start)
        status = status_of(coverage)
        late, cam.late_pending = cam.late_pending, 0
        known = status != UNKNOWN
        attributes = win.attributes or {}
        visits = win.visits

        def stats(zone_id: str, kind: str, **values) -> WindowStats:
            values = values if known else {}
            return WindowStats(model.store_id, zone_id, kind, start, end, status, coverage,
                               late_records=late, **values)

        for z in range(nz + 1):
            is_view = z == nz
            zone_id = model.view_id if is_view else model.zone_ids[z]
            kind = "camera" if is_view else model.zone_kinds[z]
            values = {}
            if known:
                avg, low, high = win.occupancy.summary(z)
                values = dict(occupancy_avg=avg, occupancy_min=low, occupancy_max=high,
                              unique_tracks=visits.visitors if is_view else len(visits.tracks[z]),
                              entries=sum(win.lines.entries) if is_view else visits.entries[z],
                              exits=sum(win.lines.exits) if is_view else visits.exits[z],
                              **visits.dwell_values(z))
                queue = None if is_view else model.queues[z]
                if queue is not None:
                    served = visits.served[z]
                    values.update(queue.window(avg, served, visits.waits[z], covered_s))
                    cam.last_rate[z] = served / covered_s if covered_s > 0 else None
            elif not is_view:
                cam.last_rate[z] = None
            record = stats(zone_id, kind, **values)
            # Counts detect already made k-anonymous: published whatever the window's coverage.
            record.attributes = attributes.get(z)
            out.append(record)
        for ln, line_id in enumerate(model.line_ids):
            out.append(stats(f"line:{line_id}", "line", entries=win.lines.entries[ln], exits=win.lines.exits[ln]))
        if known:
            out.append(HeatmapWindow(model.camera_id, model.store_id, start, end, win.heat.array()))
        cam.coverage.forget_before(end - self.settings.stale_after_s)

    def epoch_totals(self) -> dict[str, list[int]]:
        """store -> [replayed frames skipped, tracks continued] across detect restarts (``epochs.py``)."""
        totals: dict[str, list[int]] = {}
        for camera_id, cam in self.state.cameras.items():
            epochs, model = cam.__dict__.get("epochs"), self.models.get(camera_id)
            if epochs is not None and model is not None:
                total = totals.setdefault(model.store_id, [0, 0])
                total[0] += epochs.replayed
                total[1] += epochs.continued
        return totals

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
                     and cam.watermark - cam.live_capture <= self.settings.stale_after_s)
            for z in range(len(model.zone_ids) + 1):
                is_view = z == len(model.zone_ids)
                zone_id = model.view_id if is_view else model.zone_ids[z]
                kind = "camera" if is_view else model.zone_kinds[z]
                if not fresh:  # a stale or down camera's rate is unknown too
                    result.append(LiveZone(model.store_id, zone_id, kind, "unknown", cam.live_capture, None))
                    continue
                occ = cam.live_counts[z]
                zone = LiveZone(model.store_id, zone_id, kind, "ok", cam.live_capture, occ)
                if is_view:
                    zone.effective_fps = cam.effective_fps
                queue = None if is_view else model.queues[z]
                if queue is not None:
                    zone.queue_length = occ
                    zone.wait_estimate_s = queue.live_wait(occ, cam.last_rate[z])
                result.append(zone)
        return result
