"""``storesight demo`` (``make demo``): the whole pipeline on one machine with a sample clip, watched live.

The clip is the labelled Intel clip of the demo config. Where it is missing (no ../shared/data, or
``STORESIGHT_DEMO_WITHOUT_SHARED=1``, which hides it as a fresh clone lacks it), the demo plays
OpenCV's sample clip ``vtest.avi`` (PETS 2009 S2.L1: real people on a campus walkway; ``make
setup`` extracts it from Debian's opencv-doc) on ``examples/demo-walkway.yaml``, whose truth
(``demo-walkway.truth.yaml``, from the clip's ground truth: ``storesight clip-truth``) it prints
beside the live counts. Without that clip either, a synthetic store clip with a checkout queue is
generated (``storesight synth --scenario demo``) and the demo runs on the store config written with it.

LocalStack starts the embedded broker, the topics, Redis (a running one is used), local SMS and
e-mail peers and ingest/detect/aggregate/alerts as separate processes; the web console starts
too (its address and a made-up password for the user ``demo`` are printed). The clip replays in real
time with capture times starting now, so the pipeline sees it as a live camera. The view shows
the live state (Redis), closed windows, camera health, incidents and the messages the peers got.
When the clip ends the camera is reported DOWN ("end of file"); the demo waits for the last
windows to close, prints a summary and stops. Ctrl-C (or --duration) stops it at any time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import os
import secrets
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

from storesight.config import Config, load_config

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / "examples" / "demo-store.yaml"
WALKWAY_CONFIG = REPO / "examples" / "demo-walkway.yaml"
# Set to 1: the demo acts as on a clone without ../shared (the config's clips count as missing).
WITHOUT_SHARED_ENV = "STORESIGHT_DEMO_WITHOUT_SHARED"
# Where OpenCV's vtest.avi is found: installed by Debian's opencv-doc, or extracted from that
# package by `make setup` (Makefile: sample-clip) into the user's cache.
OPENCV_DOC_CLIP = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def cached_sample_clip() -> Path:
    """Where ``make setup`` extracts vtest.avi (``$XDG_CACHE_HOME/storesight``, default ~/.cache)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "storesight" / "vtest.avi"


def sample_clip() -> Path | None:
    """OpenCV's vtest.avi where opencv-doc installs it or ``make setup`` put it; None if neither has it."""
    return next((p for p in (OPENCV_DOC_CLIP, cached_sample_clip()) if p.is_file()), None)


class DemoError(RuntimeError):
    """Something the user must fix before the demo can run; the message says what."""


def replays_file(source: str) -> bool:
    """True for a camera source that is a local video file (plain path or file://)."""
    return "://" not in source or source.startswith("file://")


def file_source(camera) -> Path | None:
    """The local file a camera replays, or None for network/device/folder sources."""
    if not replays_file(camera.source):
        return None
    return Path(camera.source.removeprefix("file://"))


def missing_clips(config: Config) -> list[tuple[str, Path]]:
    return [(camera.id, path) for _, camera in config.cameras()
            if (path := file_source(camera)) is not None and not path.exists()]


def walkway_fallback(clip: Path, workdir: Path) -> Path:
    """The walkway demo config with its camera on ``clip`` (wherever vtest.avi was found), in the run folder."""
    data = yaml.safe_load(WALKWAY_CONFIG.read_text())
    for store in data["stores"]:
        for camera in store["cameras"]:
            camera["source"] = str(clip)
    path = workdir / WALKWAY_CONFIG.name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def choose_clip(config_path: Path, workdir: Path) -> tuple[Path, dict | None]:
    """The config the demo runs on and the truth of its clip (None: unknown), saying which and why.

    The config's own clips if present; else vtest.avi on the walkway config; else the synthetic store.
    """
    from tools.clip_truth import load_truth

    config = load_config(config_path)
    missing = missing_clips(config)
    if os.environ.get(WITHOUT_SHARED_ENV) == "1":
        missing = [(c.id, path) for _, c in config.cameras() if (path := file_source(c)) is not None]
        print(f"{WITHOUT_SHARED_ENV}=1: acting as on a clone without ../shared (the config's clips count as missing)")
    if not missing:
        return config_path, load_truth(config_path)
    names = ", ".join(f"{camera}: {path}" for camera, path in missing)
    clip = sample_clip()
    if clip is not None:
        print(f"the demo clip is missing ({names}): playing OpenCV's sample clip {clip} (PETS 2009 S2.L1, real "
              f"people on a campus walkway) on {WALKWAY_CONFIG.relative_to(REPO)}", flush=True)
        return walkway_fallback(clip, workdir), load_truth(WALKWAY_CONFIG)
    print(f"the demo clip is missing ({names}) and so is OpenCV's sample clip ({OPENCV_DOC_CLIP} or "
          f"{cached_sample_clip()}; make setup extracts it): generating a synthetic store clip "
          "(storesight synth --scenario demo) instead", flush=True)
    return synthetic_fallback(missing, workdir), None


def synthetic_fallback(missing: list[tuple[str, Path]], workdir: Path) -> Path:
    """A synthetic store clip (``storesight synth --scenario demo``) and its store config, for a
    machine without the labelled clip; returns the config to run the demo on."""
    from tools.synth.render import generate

    names = ", ".join(f"{camera}: {path}" for camera, path in missing)
    try:
        result = generate(workdir / "synth", scenario="demo")
    except OSError as exc:
        raise DemoError(f"the demo clip is missing ({names}) and the synthetic clip could not be made: {exc}") from exc
    summary = result.truth.summary()
    print(f"synthetic clip: {result.video} ({summary['duration_s']:.0f} s, {summary['people']} people from the "
          f"{result.people_source} images, queue up to {summary['max_queue_length']}) in {result.seconds:.1f} s; "
          f"store config {result.config}")
    return Path(result.config)


# Counts stay exact down to this detector rate (bench.overload on the Intel clip; README
# "Detector capacity"); the demo warns below it.
MIN_RATE_FPS = 3.0
# Share of the measured detector rate the demo asks of it: ingest, aggregate, alerts and the
# broker share the same cores.
RATE_HEADROOM = 0.7


def measure_detector(config: Config, frames: int = 4) -> float:
    """Frames a second this machine's detector runs, one at a time, on the demo clip's own frames
    (the first inference, which warms the model up, is not counted)."""
    import itertools

    from services.detect.pipeline import Detector
    from storesight.video import every_nth_frame

    camera = next(c for _, c in config.cameras() if file_source(c) is not None)
    path = file_source(camera)
    settings = config.pipeline.detect.model_copy(update={"max_batch": 1})
    detector = Detector(settings)
    images = [image for _, _, image in itertools.islice(every_nth_frame(path, every=25), frames + 1)]
    detector.process([camera.id], images[:1], [0.0])
    began = time.perf_counter()
    for i, image in enumerate(images[1:], 1):
        detector.process([camera.id], [image], [float(i)])
    return (len(images) - 1) / (time.perf_counter() - began)


def choose_fps(measured_fps: float, clip_fps: float) -> tuple[float, str]:
    """The camera rate the demo asks for, and why: what the detector sustains with headroom,
    never above the clip's own rate.

    >>> choose_fps(6.5, 10.0)
    (4.5, 'the detector ran 6.5 frames/s here; 70% of that, rounded down: 4.5 fps')
    >>> choose_fps(40.0, 10.0)[0]
    10.0
    """
    target = math.floor(measured_fps * RATE_HEADROOM * 2) / 2  # half-frame steps
    if target >= clip_fps:
        return clip_fps, f"the detector ran {measured_fps:.1f} frames/s here: the clip's full {clip_fps:g} fps"
    why = (f"the detector ran {measured_fps:.1f} frames/s here; {RATE_HEADROOM:.0%} of that, rounded down: "
           f"{target:g} fps" if target >= 0.5 else
           f"the detector ran {measured_fps:.2f} frames/s here: 0.5 fps, the lowest the demo asks for")
    target = max(target, 0.5)
    if target < MIN_RATE_FPS:
        why += (f" (below {MIN_RATE_FPS:g} fps, the lowest rate at which bench.overload counts right: counts "
                "may be off; a faster machine or --fps forces a rate, and detect sheds what it cannot run)")
    return target, why


def demo_config(config_path: Path, workdir: Path, fps: float, window_s: int) -> Path:
    """The demo's copy of the config: file cameras replay in real time.

    ``fps`` (0 = as configured) caps the sampling rate so a CPU detector keeps up; ``window_s`` (0 = as
    configured) shortens the windows (and the lateness allowed) so incidents fire and clear
    within seconds of what the camera sees. The detector runs one frame at a time and drops
    frames older than 5 s: on a slow CPU the view lags a little instead of a lot.
    """
    config = load_config(config_path)  # resolves relative sources against the config's folder
    data = config.model_dump(mode="json", exclude_none=True)
    for store in data["stores"]:
        for camera in store["cameras"]:
            if replays_file(camera["source"]):
                camera["realtime"] = True
                if fps:
                    camera["fps"] = min(camera["fps"], fps)
    # Live, not throughput: one frame per inference and stale after 5 s, so a slow (CPU)
    # detector shows what happened a few seconds ago rather than a burst from long ago.
    detect = data["pipeline"]["detect"]
    detect["max_batch"], detect["max_frame_age_s"] = 1, min(detect["max_frame_age_s"], 5.0)
    if window_s:
        aggregate = data["pipeline"]["aggregate"]
        aggregate["window_s"] = window_s
        aggregate["allowed_lateness_s"] = min(aggregate["allowed_lateness_s"], window_s)
    path = workdir / "demo-config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def start_ingest(stack, lead_s: float = 2.0) -> None:
    """Start ingest last, its file cameras stamped from now: a replayed file's capture time is
    start_time + frame / fps, counted from when ingest opens the file; the detector drops frames
    older than max_frame_age_s, so the start time must be when the replay really begins."""
    from tools.stack import ServiceProcess

    data = yaml.safe_load(stack.run_config_path.read_text())
    start = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=lead_s)  # ingest's own start-up
    for store in data["stores"]:
        for camera in store["cameras"]:
            if replays_file(camera["source"]):
                camera["start_time"] = start.isoformat().replace("+00:00", "Z")
    path = stack.workdir / "ingest-config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    env = {**os.environ, "KAFKA_BOOTSTRAP": stack.broker.bootstrap, "REDIS_URL": stack.redis_url,
           "PYTHONUNBUFFERED": "1"}
    stack.processes["ingest"] = ServiceProcess("ingest", path, env, stack.workdir / "logs")
    stack.processes["ingest"].wait_ready(stack.ready_timeout_s)


def start_console(stack, redis_prefix: str) -> str:
    """Start the web console on the run's config (one installer, ``demo``, with a password made
    up for this run) and return how to sign in. The address is localhost: browsers keep the
    console's Secure session cookie over plain http only there."""
    from services.console.auth import hash_password
    from tools.stack import ServiceProcess

    password = secrets.token_urlsafe(9)
    env = {**os.environ, **stack.peers.env, "KAFKA_BOOTSTRAP": stack.broker.bootstrap, "REDIS_URL": stack.redis_url,
           "PYTHONUNBUFFERED": "1", "CONSOLE_USERS": f"demo:installer:{hash_password(password)}",
           "CONSOLE_SECRET_KEY": secrets.token_urlsafe(32)}
    process = ServiceProcess("console", stack.run_config_path, env, stack.workdir / "logs",
                             args=("--host", "127.0.0.1", "--writable", "--redis-prefix", redis_prefix))
    stack.processes["console"] = process
    process.wait_ready(stack.ready_timeout_s)
    return f"http://localhost:{process.port}/ (user demo, password {password})"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    state = Path(f"/proc/{pid}/stat")
    return not (state.exists() and state.read_text().split(") ")[-1].startswith("Z"))


class Watcher:
    """Background thread: camera health, closed windows and alert events from Kafka into the view."""

    def __init__(self, view, kafka_settings, run_id: str):
        from storesight.bus import TypedConsumer
        from storesight.topics import ALERTS, CAMERA_HEALTH, DETECTIONS, ZONE_STATS

        self.view = view
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.consumer = TypedConsumer(kafka_settings, [CAMERA_HEALTH, ZONE_STATS, ALERTS, DETECTIONS],
                                      group=f"storesight-demo-view-{run_id}", client_id="demo-view")
        self.handlers = {CAMERA_HEALTH.name: view.apply_health, ZONE_STATS.name: view.apply_stats,
                         ALERTS.name: view.apply_alert, DETECTIONS.name: view.apply_detections}
        self.thread = threading.Thread(target=self._run, name="demo-watcher", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop_event.is_set():
            records = self.consumer.poll(timeout_ms=300)
            with self.lock:
                for record in records:
                    self.handlers[record.topic](record.value)

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(5)
        self.consumer.close()


def run_demo(args: argparse.Namespace) -> int:
    import redis

    from tools.demo_view import DemoView
    from tools.stack import LocalStack

    began = time.monotonic()
    # aiosmtpd (the local e-mail peer, in this process) logs a warning about its own deprecated API.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="storesight-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    config_path, truth = choose_clip(Path(args.config), workdir)
    config = load_config(config_path)
    for camera_id, path in [(c.id, file_source(c)) for _, c in config.cameras()]:
        if path is not None:
            print(f"camera {camera_id}: replaying {path} in real time")
    run_id = secrets.token_hex(3)
    prefix = args.redis_prefix
    # Per-run consumer groups and key prefixes: a shared Redis may hold state of earlier runs
    # (checkpoints, incident state) that must not be restored into this fresh broker's run.
    fps = args.fps
    if fps is None:
        measured = measure_detector(config)
        clip_fps = max(camera.fps for _, camera in config.cameras())
        fps, why = choose_fps(measured, clip_fps)
        print(f"camera rate chosen: {fps:g} fps ({why}; --fps N forces a rate)", flush=True)
    else:
        print(f"camera rate forced by --fps: {fps:g} fps (0 = the config's); if the detector cannot keep up it "
              "runs each camera's newest frame and skips the rest (counted)", flush=True)
    run_config = demo_config(config_path, workdir, fps, args.window)
    settings = load_config(run_config).pipeline
    print(f"demo settings: file cameras sampled at <= {fps:g} fps, {settings.aggregate.window_s} s windows, "
          f"{settings.aggregate.allowed_lateness_s:g} s allowed lateness (--fps/--window 0 keep the config's); "
          f"detector batch {settings.detect.max_batch}, frames dropped after {settings.detect.max_frame_age_s:g} s")
    stack = LocalStack(run_config, workdir, services=("alerts", "aggregate", "detect"), service_args={
        "aggregate": ("--group", f"storesight-aggregate-demo-{run_id}", "--redis-prefix", prefix),
        "alerts": ("--group", f"storesight-alerts-demo-{run_id}", "--key-prefix", f"{prefix}alerts:demo-{run_id}:"),
    })
    print(f"starting the embedded broker, Redis, local SMS/e-mail peers and {', '.join(stack.services)}, "
          f"then ingest (logs: {workdir / 'logs'})", flush=True)
    stack.start()
    view = DemoView([s.id for s in config.stores], truth=(truth or {}).get("counts", {}))
    if truth:
        print(f"truth of the clip ({truth['clip']}, from its ground truth {truth['ground_truth']}: storesight "
              "clip-truth): " + "; ".join(f"{zone} {row['entries']} in / {row['exits']} out"
                                           for zone, row in truth["counts"].items()), flush=True)
    view.rate_note = f"camera rate {fps:g} fps" + (" (--fps)" if args.fps is not None else " (chosen from the detector's measured rate)")
    reason, codes, watcher, client = "stopped (Ctrl-C)", {}, None, None
    try:
        start_ingest(stack)
        console = start_console(stack, prefix) if args.console else None
        startup_s = time.monotonic() - began
        pids = [p.proc.pid for p in stack.processes.values()] + [stack.broker._proc.pid]
        print(f"start-up: {startup_s:.1f} s (all services ready)")
        if stack.redis_started:
            print(f"Redis: no Redis answered, started a local Redis at {stack.redis_url} (stopped at exit)")
        else:
            print(f"Redis: using Redis at {stack.redis_url}")
        if console:
            print(f"console: {console}", flush=True)
        print("Ctrl-C stops everything." if args.duration is None else f"running for {args.duration:.0f} s",
              flush=True)
        stop = threading.Event()
        previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            watcher = Watcher(view, stack.config.pipeline.kafka, run_id)
            client = redis.Redis.from_url(stack.redis_url)
            reason = _watch(args, stack, view, watcher, client, prefix, began, stop) or reason
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
    finally:
        # Whatever happened above (Ctrl-C during start-up included): nothing is left running.
        if watcher is not None:
            watcher.stop()
        if client is not None:
            client.close()
        codes = stack.stop()
        if stack.redis_started:
            _stop_local_redis(stack.redis_url)
    if args.capture:
        _capture(view, args.capture, header=f"StoreSight demo · {reason} · Redis {stack.redis_url}")
    _summary(view, reason, startup_s, codes, pids)
    return 0


def _capture(view, path: str, header: str) -> None:
    """The live view's last state as plain text (for the README and for bug reports)."""
    import io

    from rich.console import Console

    console = Console(file=io.StringIO(), record=True, width=110, color_system=None)
    console.print(view.render(header))
    Path(path).write_text(console.export_text(styles=False))
    print(f"live view written to {path}")


def _watch(args, stack, view, watcher, client, prefix: str, began: float, stop: threading.Event) -> str | None:
    """Refresh the view until stopped, --duration passes, or the clips ended and their windows closed."""
    settings = stack.config.pipeline.aggregate
    linger_s = settings.window_s + settings.allowed_lateness_s + 5
    cameras = [c.id for _, c in stack.config.cameras()]
    ended_at = None
    deadline = None if args.duration is None else began + args.duration
    live_display = None
    if args.live:
        from rich.live import Live

        live_display = Live(refresh_per_second=2, screen=False)
        live_display.start()
    last_line = 0.0
    try:
        while not stop.is_set():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return f"stopped after --duration {args.duration:g} s"
            for name, process in stack.processes.items():
                if process.proc.poll() is not None:
                    return f"{name} exited with {process.proc.returncode} (log: {process.log_path})"
            counts = detector_counts(stack, cameras)
            with watcher.lock:
                if counts is not None:
                    view.apply_detector_counts(counts)
                for store_id in view.store_ids:
                    view.apply_live(store_id, client.hgetall(f"{prefix}live:{store_id}"))
                view.apply_peers(list(stack.peers.twilio.messages), list(stack.peers.smtp.messages))
                if ended_at is None and cameras and all(
                        view.cameras.get(c, ("", ""))[0] == "DOWN" and "end" in view.cameras[c][1] for c in cameras):
                    ended_at = now
                    view._event(f"clip ended: waiting {linger_s:.0f} s for the last windows to close")
                elapsed = now - began
                header = (f"StoreSight demo · {elapsed:5.0f} s since start · Redis {stack.redis_url} · "
                          "Ctrl-C stops")
                if live_display is not None:
                    live_display.update(view.render(header))
                else:
                    for line in view.take_new_lines():
                        print(f"[{elapsed:6.1f} s] {line}", flush=True)
                    if now - last_line >= args.every:
                        last_line = now
                        print(f"[{elapsed:6.1f} s] {view.status_line()}", flush=True)
            if ended_at is not None and now - ended_at >= linger_s:
                return "the clip ended"
            stop.wait(0.5)
    finally:
        if live_display is not None:
            live_display.stop()
    return None


def detector_counts(stack, cameras: list[str]) -> dict[str, dict[str, float]] | None:
    """Per camera, from the detect service's metrics: frames run, skipped (shedding), or None."""
    from tools.stack import metric_value

    try:
        text = stack.processes["detect"].metrics()
    except (OSError, KeyError):
        return None
    return {c: {"processed": metric_value(text, "storesight_detect_frames_total", camera=c),
                "skipped": metric_value(text, "storesight_detect_frames_skipped_total", camera=c)}
            for c in cameras}


def _stop_local_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url).shutdown(nosave=True)
    except redis.exceptions.ConnectionError:
        pass  # shutting down closes the connection: that is the answer
    print(f"stopped the local Redis at {url}")


def _summary(view, reason: str, startup_s: float, codes: dict, pids: list[int]) -> None:
    left = [pid for pid in pids if _alive(pid)]
    print(f"\ndemo ended: {reason}. Start-up took {startup_s:.1f} s.")
    print(view.status_line())
    if view.truth:
        print("counts vs the clip's truth (entries / exits over the whole clip"
              + ("):" if reason == "the clip ended" else "; the demo stopped before the clip ended):"))
        for line in view.truth_lines():
            print(f"  {line}")
    print(f"{view.rate_note}; {view.detector_line()}")
    fired = sum(1 for row in view.incidents.values() if "fired" in row)
    resolved = sum(1 for row in view.incidents.values() if "resolved" in row)
    print(f"incidents: {fired} fired, {resolved} resolved; SMS received by the local peer: {view.sms_seen}; "
          f"e-mails received: {view.emails_seen}")
    print("services stopped: " + ", ".join(f"{name} (exit {code})" for name, code in codes.items())
          + "; broker stopped")
    print("no process left behind" if not left else f"processes still running: {left}")


def register(sub) -> None:
    demo = sub.add_parser("demo", help="run the whole pipeline on a sample clip and watch it live")
    demo.add_argument("--config", default=str(DEFAULT_CONFIG), help="store config (default: the demo store)")
    demo.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    demo.add_argument("--no-live", dest="live", action="store_false", default=None,
                      help="plain log lines instead of the live table (default when stdout is not a terminal)")
    demo.add_argument("--fps", type=float, default=None,
                      help="sample file cameras at most this often (default: a rate this machine's detector "
                           "sustains, measured at start; 0 = the config's)")
    demo.add_argument("--window", type=int, default=4,
                      help="aggregation window in seconds for the demo (default 4; 0 = config's window_s)")
    demo.add_argument("--every", type=float, default=5.0, help="seconds between status lines with --no-live")
    demo.add_argument("--capture", help="at exit, write the live view as plain text to this file")
    demo.add_argument("--workdir", help="folder for the run config and service logs (default: a new temp folder)")
    demo.add_argument("--redis-prefix", default="storesight:", help="prefix of the Redis keys the run writes")
    demo.add_argument("--no-console", dest="console", action="store_false",
                      help="do not start the web console (by default it starts and its address is printed)")
    demo.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from tools.stack import ServiceFailed

    if args.live is None:
        args.live = sys.stdout.isatty()
    try:
        return run_demo(args)
    except (DemoError, ServiceFailed) as exc:
        print(f"demo cannot run: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("demo interrupted during start-up; everything it started is stopped", file=sys.stderr)
        return 130
