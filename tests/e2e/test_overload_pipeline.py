"""A detector slower than its camera still counts right: the Intel clip replayed in real time at
10 fps through ingest -> detect -> aggregate -> alerts (separate processes, the real embedded
broker, a private Redis), with the detector held to about 3 frames a second.

How the detector is slowed (stated, not hidden): ``pipeline.detect.max_detect_fps: 3`` caps the
real ONNX detector at 3 frames a second (all cameras together), a setting of the service
(services/detect/README.md); on a loaded 2-core machine the model itself may be slower still,
which only lowers the rate further. Everything else is the service defaults: load shedding on
(each camera's newest frame wins), frames older than 10 s dropped, ingest in real time
(``realtime: true``, capture times from when ingest opens the file, health reports advancing
event time), no motion gate.

Must show, against visits.csv (6 visits): 6 visitors (the camera view's unique tracks: no visit
split into two tracks), 6 exits and 0 entries through the right-hand line, 6 entries and 6 exits
at the table and on the floor, and the same numbers as ``storesight analyze`` on the clip;
detect skipped most frames (counted), dropped none as stale, ran them at an even cadence (a gap
longer than the track memory, from a stalled machine, counted one for one and rare), and
reported its effective rate on every Detections message and as a gauge. The counts are read once
the aggregate has closed the windows after the last visit (the last visitor's exits are booked
when their track is gone, after the clip ended). The clip's detections at 5 fps for the analyze
comparison come from the session's shared ``intel_detections_file`` (also used by the detect-file
and aggregate tests): no extra detector run in a full test session.
"""

from __future__ import annotations

import statistics

import pytest
import yaml

from storesight.config import load_config
from storesight.contracts import seconds
from storesight.topics import DETECTIONS
from tests.e2e.pipeline_run import decode_all, read_topics, wait_until_closed, wait_until_drained
from tests.support.servers import INTEL_CLIP, REPO
from tools.analyze import analyze
from tools.demo import start_ingest
from tools.stack import LocalStack, metric_value

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

CAMERA, STORE = "cam-table", "demo-store"
CAPACITY_FPS = 3.0
DRAIN_TIMEOUT_S = 600  # the clip plays for 140 s in real time
CLOSE_TIMEOUT_S = 60  # the last windows close ~15 s after the clip ends


def write_config(workdir):
    data = yaml.safe_load((REPO / "examples" / "demo-store.yaml").read_text())
    pipeline = data["pipeline"]
    pipeline["aggregate"] = {"window_s": 2, "allowed_lateness_s": 5}
    pipeline["detect"] = {"max_batch": 1, "max_detect_fps": CAPACITY_FPS}
    camera = data["stores"][0]["cameras"][0]
    camera.update(source=str(INTEL_CLIP), fps=10, realtime=True)
    path = workdir / "overload-e2e.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path, load_config(path)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    if not INTEL_CLIP.exists():
        pytest.fail(f"labelled Intel clip not found: {INTEL_CLIP}")
    workdir = tmp_path_factory.mktemp("overload-e2e")
    config_path, config = write_config(workdir)
    stack = LocalStack(config_path, workdir / "run", services=("alerts", "aggregate", "detect"), private_redis=True)
    try:
        stack.start()
        start_ingest(stack)  # last, its replay stamped from now: a live camera
        counts = wait_until_drained(stack, [CAMERA], DRAIN_TIMEOUT_S)
        detect_metrics = stack.processes["detect"].metrics()
        detections = decode_all(read_topics(stack.broker.bootstrap, [DETECTIONS.name])[DETECTIONS.name],
                                DETECTIONS.name)
        # The last visitor's visit ends once their track is gone on the watermark (ingest's health
        # reports move it on after the clip ended), and is counted in the window it is booked in:
        # wait until a window that starts after that has closed.
        last = max(seconds(m.capture_time) for m in detections)
        settle = config.pipeline.aggregate.track_gone_s + config.pipeline.ingest.health_interval_s
        zone_stats = wait_until_closed(stack.broker.bootstrap, f"camera:{CAMERA}", last + settle, CLOSE_TIMEOUT_S)
        codes = stack.stop_services()
    finally:
        stack.stop()
    return {"config": config, "counts": counts, "codes": codes, "detect_metrics": detect_metrics,
            "zone_stats": zone_stats, "detections": detections}


LABELS = {"visitors": 6, "line in": 0, "line out": 6, "table in": 6, "table out": 6, "floor in": 6, "floor out": 6}


def counts_of(stats) -> dict[str, int]:
    """The 7 numbers of visits.csv from closed windows (ZoneStats or WindowStats)."""
    def number(zone: str, field: str) -> int:
        return sum(getattr(s, field) or 0 for s in stats if s.zone_id == zone)

    return {"visitors": number(f"camera:{CAMERA}", "unique_tracks"),
            "line in": number("line:right-exit", "entries"), "line out": number("line:right-exit", "exits"),
            "table in": number("table", "entries"), "table out": number("table", "exits"),
            "floor in": number("floor", "entries"), "floor out": number("floor", "exits")}


def test_counts_equal_the_labels_with_a_detector_at_3_frames_a_second(run):
    # The detector runs at most CAPACITY_FPS; on a busy 2-core machine the model itself is often
    # slower (2.1-2.2 frames/s with the whole pipeline and the test runner on the same 2 cores):
    # the counts must be right at whatever cadence it sustained, down to the README's minimum
    # (the other test checks that cadence: even, long gaps counted and rare).
    c = run["counts"]
    rate = c["detect_out"] * 10 / max(c["published"], 1)
    assert counts_of(run["zone_stats"]) == LABELS, (c, f"detector ran {rate:.1f} frames/s")


def test_counts_equal_storesight_analyze_on_the_clip(run, intel_detections_file):
    # ``storesight analyze`` on the same clip with the same settings, on the detector's output at
    # the cameras' 5 frames/s (the session's shared detect-file run of the clip, no Kafka).
    analysis = analyze(INTEL_CLIP, run["config"], CAMERA, recorded=intel_detections_file)
    assert counts_of(analysis.windows) == counts_of(run["zone_stats"])


def test_the_detector_shed_load_evenly_and_reported_its_rate(run):
    assert run["codes"] == {"ingest": 0, "detect": 0, "aggregate": 0, "alerts": 0}
    c = run["counts"]
    assert c["detect_dlq"] == c["aggregate_dlq"] == 0
    assert c["published"] >= 1300  # ~1,394 frames of the 10 fps clip, every one sent
    # Most frames were skipped (a decision, counted), none went stale, the rest were run.
    assert c["detect_dropped"] == 0
    assert c["detect_skipped"] >= 0.6 * c["published"]
    assert c["detect_out"] + c["detect_skipped"] == c["detect_in"]
    text = run["detect_metrics"]
    assert metric_value(text, "storesight_detect_frames_skipped_total", camera=CAMERA) == c["detect_skipped"]
    reported_gaps = metric_value(text, "storesight_detect_frame_gaps_total", camera=CAMERA)
    assert 0 < metric_value(text, "storesight_detect_effective_fps", camera=CAMERA) <= CAPACITY_FPS + 0.2

    messages = sorted(run["detections"], key=lambda m: seconds(m.capture_time))
    assert len(messages) == c["detect_out"]
    times = [seconds(m.capture_time) for m in messages]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # An even cadence: consecutive frames about 1/rate apart (nine in ten within twice the
    # median). A gap longer than the track memory happens only when the machine stalls the
    # detector (seen once in a run under a load average of 19): it is counted and reported,
    # one for one, and rare; the counts test shows it did not turn into new visitors.
    assert statistics.quantiles(gaps, n=10)[-1] <= 2 * statistics.median(gaps)
    long_gaps = sum(1 for g in gaps if g > run["config"].pipeline.detect.track_memory_s)
    assert reported_gaps == long_gaps <= 0.01 * len(gaps), (reported_gaps, long_gaps, max(gaps))
    rates = [m.effective_fps for m in messages if seconds(m.capture_time) - times[0] > 15]
    print(f"detector: {len(messages)} frames run, {c['detect_skipped']:.0f} skipped, effective rate median "
          f"{statistics.median(rates):.2f} frames/s, gaps median {statistics.median(gaps):.2f} s, "
          f"max {max(gaps):.2f} s, {long_gaps} longer than the track memory")
    assert 1.0 <= statistics.median(rates) <= CAPACITY_FPS + 0.2
    assert abs(statistics.median(rates) - 1 / statistics.median(gaps)) < 0.5

