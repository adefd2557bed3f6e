"""``storesight analyze VIDEO --config FILE``: the pipeline's detector, tracker and aggregator in one process.

No Kafka, no Redis: frames go through ``services.detect.pipeline.detect_video`` (the code behind
the detect service) and ``services.aggregate.aggregator.Aggregator`` (the code behind the aggregate
service), and the results are written as a report folder (see ``tools.report``).
Capture times are the camera's ``start_time`` (default 1970-01-01Z) + frame / clip fps, as the
ingest service stamps a replayed file.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

from storesight.config import Config, ConfigError, load_config


@dataclass
class TimelinePoint:
    """The live view after one processed frame: what a dashboard would have shown then."""

    t: float  # seconds from the start of the video
    capture_s: float
    zones: dict[str, tuple[int | None, int | None, float | None]]  # zone -> (occupancy, queue, wait)


@dataclass
class Analysis:
    camera_id: str
    store_id: str
    video: str
    start_s: float  # capture time of frame 0
    frames: int = 0
    persons: int = 0
    windows: list = field(default_factory=list)  # WindowStats
    heatmaps: list = field(default_factory=list)  # HeatmapWindow
    visits: list = field(default_factory=list)  # Visit
    timeline: list[TimelinePoint] = field(default_factory=list)
    line_totals: dict[str, list[int]] = field(default_factory=dict)  # line -> [entries, exits]
    detector_model: str = ""
    inference_ms: float = 0.0


def frame_record(result, camera_id: str, capture_s: float):
    """A detector result as the aggregator's input: every reported person (hidden ones too),
    as the detect service publishes them and the aggregate service reads them."""
    from services.aggregate.records import FrameRecord
    from services.detect.people import feet

    return FrameRecord(camera_id, capture_s, result.persons.tracker_id.tolist(),
                       [tuple(foot) for foot in feet(result.persons).tolist()], result.frame)


def recorded_results(path: str | Path):
    """FrameResults from a ``storesight detect-file`` JSONL (same format ``analyze`` writes)."""
    from services.detect.pipeline import FrameResult

    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield FrameResult.from_json(line)


def analyze(video: str | Path, config: Config, camera_id: str, every: int = 1, until_s: float | None = None,
            on_frame=None, detections_out=None, recorded: str | Path | None = None) -> Analysis:
    """Detect, track and aggregate a video file; ``on_frame(t)`` reports progress.

    With ``recorded`` (a detect-file JSONL of this video) the detector is not run again: the
    zones and lines of ``config`` are applied to the recorded people (calibrating zones).
    """
    from services.aggregate.aggregator import Aggregator
    from services.aggregate.records import HeatmapWindow, WindowStats
    from services.detect.pipeline import EPOCH, detect_video

    store, camera = config.camera(camera_id)
    start = camera.start_time or EPOCH
    result = Analysis(camera.id, store.id, str(video), start.timestamp())
    aggregator = Aggregator(config, on_visit=result.visits.append)

    def collect(out: list) -> None:
        result.windows.extend(o for o in out if isinstance(o, WindowStats))
        result.heatmaps.extend(o for o in out if isinstance(o, HeatmapWindow))

    if recorded is not None:
        # Capture times are restamped below from the camera's start_time + t, as for a fresh run.
        frames = recorded_results(recorded)
    else:
        frames = detect_video(video, config.pipeline.detect, every=every, start_time=start, camera_id=camera.id,
                              ignore_regions=camera.ignore_regions)
    for frame in frames:
        if until_s is not None and frame.t > until_s:
            break
        if detections_out is not None:
            detections_out.write(frame.to_json() + "\n")
        capture_s = result.start_s + frame.t
        collect(aggregator.process([frame_record(frame, camera.id, capture_s)]))
        result.frames += 1
        result.persons += len(frame.persons)
        result.inference_ms += frame.inference_ms
        result.detector_model = frame.model
        result.timeline.append(TimelinePoint(frame.t, capture_s, {
            z.zone_id: (z.occupancy, z.queue_length, z.wait_estimate_s) for z in aggregator.live([camera.id])}))
        if on_frame is not None:
            on_frame(frame.t)
    collect(aggregator.flush())
    result.line_totals = {line: list(totals) for (store_id, line), totals in aggregator.state.line_totals.items()
                          if store_id == store.id}
    return result


def video_seconds(path: str | Path) -> float | None:
    """Length from the file header, for the progress bar only (the analysis reads to the end)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        frames, fps = capture.get(cv2.CAP_PROP_FRAME_COUNT), capture.get(cv2.CAP_PROP_FPS)
    finally:
        capture.release()
    return frames / fps if frames > 0 and 0 < fps < 1000 else None


def _pick_camera(config: Config, wanted: str | None) -> str:
    cameras = [c.id for _, c in config.cameras()]
    if wanted:
        if wanted not in cameras:
            raise ConfigError([f"camera {wanted!r} is not in the config (cameras: {', '.join(cameras)})"])
        return wanted
    if len(cameras) > 1:
        raise ConfigError([f"the config has {len(cameras)} cameras: choose one with --camera "
                           f"({', '.join(cameras)})"])
    return cameras[0]


def _cmd_analyze(args: argparse.Namespace) -> int:
    import logging
    import time

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from storesight.logs import setup_logging
    from tools.report import write_report

    setup_logging("analyze")  # JSON logs on stderr
    logging.getLogger().setLevel(logging.WARNING)  # the progress bar says how it goes
    if not Path(args.video).exists():
        print(f"no such video: {args.video}", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config)
        camera_id = _pick_camera(config, args.camera)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    length = video_seconds(args.video)
    total = min(length, args.until) if length and args.until else (args.until or length)
    began = time.monotonic()
    with Progress(TextColumn("[bold]analyze[/] {task.description}"), BarColumn(),
                  TextColumn("{task.completed:.0f}/{task.total:.0f} s of video"), TimeElapsedColumn(),
                  TimeRemainingColumn(), transient=False) as progress, \
            (out / "detections.jsonl").open("w", encoding="utf-8") as detections:
        task = progress.add_task(Path(args.video).name, total=total)
        analysis = analyze(args.video, config, camera_id, every=args.every, until_s=args.until,
                           on_frame=lambda t: progress.update(task, completed=t), detections_out=detections,
                           recorded=args.detections)
        progress.update(task, completed=total)
    spent = time.monotonic() - began
    files = write_report(analysis, config, out, background=args.heatmap_background)
    print(f"{analysis.frames} frames ({analysis.frames / spent:.1f}/s), {len(analysis.windows)} window records, "
          f"{len(analysis.visits)} visits in {spent:.0f} s")
    for line, (entries, exits) in sorted(analysis.line_totals.items()):
        print(f"line {line}: {entries} entries, {exits} exits")
    print(f"report: {out / 'report.html'} ({len(files)} files)")
    return 0


def register(sub) -> None:
    parser = sub.add_parser("analyze", help="detect, track and aggregate a video file without Kafka; "
                            "writes a report folder (HTML, plots, heatmap, CSV)")
    parser.add_argument("video")
    parser.add_argument("--config", required=True, help="store config with the camera's zones, lines and settings")
    parser.add_argument("--camera", help="camera id whose zones apply (needed when the config has several)")
    parser.add_argument("--out", default="report", help="report folder (default ./report)")
    parser.add_argument("--every", type=int, default=1, help="process every N-th frame (default 1)")
    parser.add_argument("--until", type=float, help="stop after this many seconds of video")
    parser.add_argument("--detections", help="use this detect-file JSONL of the video instead of running the "
                        "detector (e.g. to try other zones); --every does not apply")
    parser.add_argument("--heatmap-background", choices=["median", "none"], default="median",
                        help="draw the heatmap over the people-free median of the video (default) or over grey")
    parser.set_defaults(func=_cmd_analyze)

