"""A synthetic checkout queue (`storesight synth --scenario queue --seed 0`) through ingest -> detect
-> aggregate -> alerts, each service its own process, against the clip's exact ground truth.

The clip: 9 people arrive in a rush, browse, queue first come first served and pay one at a time;
the queue reaches 6. Rule (the clip's store.yaml, `queue-long`): queue length > 5 for 3 s, clears
at <= 3, cooldown 600 s, SMS + e-mail. Ground truth (truth.jsonl, truth.json): per frame, the
number of foot points in the queue zone, and per person the time their foot point spent there.

Tolerances, stated before the run and checked here:
- queue length per 1-s window (the pipeline's `queue_length`, the window's average) within
  1 person of the truth's average over the same frames in >= 90 % of the windows, and the
  largest window value within 1 of the truth's largest;
- exactly one queue incident, as the ideal rule over the truth's windows raises exactly one;
  it fires while the truth's queue is at the threshold or above (every window of the 3 s before
  firing has a truth value >= 5: the rule is "> 5", and a 1-s average of 5.2 is one frame of 6
  out of five, so a count within the tolerance above may fire up to that early), and no later
  than 3 s after the ideal rule; the value it reports is > 5 and within 1 of the truth's value
  of that window; exactly one firing SMS and one firing e-mail; it resolves once the truth's
  queue is within 1 of the clear threshold (<= 4) and no later than 3 s after the ideal rule;
- wait: the mean measured wait of served people (dwell in the queue zone of tracks that
  reached the till, weighted by the served count of each window) within 15 % of the truth's
  mean queue wait of those who bought; and the number served within 1 of the truth's.
People are the Intel visitors cut out of ../shared/data (the packaged portrait fallback is
weaker: the detector finds ~77 % of those), so the test skips without the Intel clip.
Run settings as in test_intel_pipeline: 5 fps, realtime false, no frame dropped for age or shed,
1-s windows, watermark from captures only.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict

import pytest
import yaml

from storesight.config import load_config
from storesight.contracts import AlertEvent, seconds
from storesight.topics import ALERTS, ZONE_STATS
from tests.e2e.pipeline_run import decode_all, read_topics, wait_until_drained
from tests.support.servers import INTEL_CLIP
from tools.stack import LocalStack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

FPS = 5
DRAIN_TIMEOUT_S = 900


def write_config(clip_dir, workdir):
    data = yaml.safe_load((clip_dir / "store.yaml").read_text())
    data["pipeline"] = {"aggregate": {"window_s": 1, "allowed_lateness_s": 2, "health_advances_watermark": False},
                        "detect": {"max_frame_age_s": 1.0e9, "shed_window_s": 1.0e9}}
    camera = data["stores"][0]["cameras"][0]
    camera.update(source=str(clip_dir / camera["source"]), fps=FPS, realtime=False)
    path = workdir / "synth-e2e.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path, load_config(path)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    if not INTEL_CLIP.exists():
        pytest.skip("the synthetic queue is made of the Intel clip's people (../shared/data absent)")
    from tools.synth.render import generate

    workdir = tmp_path_factory.mktemp("synth-e2e")
    generated = generate(workdir / "clip", scenario="queue", seed=0, people_source="intel")
    config_path, config = write_config(workdir / "clip", workdir)
    store = config.stores[0]
    camera = store.cameras[0]
    stack = LocalStack(config_path, workdir / "run", private_redis=True)
    started = time.time()
    try:
        stack.start()
        counts = wait_until_drained(stack, [camera.id], DRAIN_TIMEOUT_S)
        codes = stack.stop_services()
        topics = read_topics(stack.broker.bootstrap, [ALERTS.name, ZONE_STATS.name])
        result = {
            "config": config, "store": store, "camera": camera, "counts": counts, "codes": codes,
            "truth": json.loads(generated.truth_summary.read_text()),
            "frames": [json.loads(line) for line in generated.truth_frames.read_text().splitlines()],
            "alerts": {e.event_id: e for e in decode_all(topics[ALERTS.name], ALERTS.name)},
            "stats": [s for s in decode_all(topics[ZONE_STATS.name], ZONE_STATS.name) if s.zone_id == "queue"],
            "sms": list(stack.peers.twilio.messages), "email": list(stack.peers.smtp.messages),
        }
    finally:
        stack.stop()
    print(f"synth e2e: {time.time() - started:.0f} s, {counts}")
    return result


def truth_windows(run) -> dict[int, float]:
    """Window index (seconds from the clip start) -> the truth's average queue length over the
    frames the camera samples (every 2nd of the 10-fps clip)."""
    step = round(run["truth"]["fps"] / FPS)
    per_window: dict[int, list[int]] = defaultdict(list)
    for frame in run["frames"]:
        if frame["frame"] % step == 0:
            per_window[int(frame["t"] + 1e-6)].append(frame["queue_length"])
    return {w: sum(v) / len(v) for w, v in per_window.items()}


def reported_windows(run) -> dict[int, float]:
    t0 = run["camera"].start_time.timestamp()
    return {round(seconds(s.window_start) - t0): s.queue_length for s in run["stats"]
            if not s.live and s.HasField("queue_length")}


def ideal_incidents(windows: dict[int, float], rule) -> list[tuple[int, int | None]]:
    """(fired at window end, resolved at window end) for the rule applied to window values."""
    out, since, firing = [], None, False
    for w in sorted(windows):
        value = windows[w]
        if firing:
            if value <= rule.clear_threshold:
                out[-1] = (out[-1][0], w + 1)
                firing = False
            continue
        if value > rule.threshold:
            since = w if since is None else since
            if w + 1 - since >= rule.for_s:
                out.append((w + 1, None))
                firing, since = True, None
        else:
            since = None
    return out


def test_the_run_finished_cleanly(run):
    assert run["codes"] == {"ingest": 0, "detect": 0, "aggregate": 0, "alerts": 0}
    counts = run["counts"]
    assert counts["detect_dropped"] == counts["detect_dlq"] == counts["aggregate_dlq"] == counts["alerts_dlq"] == 0
    assert run["truth"]["max_queue_length"] == 6 and run["truth"]["expected_queue_incidents"] == 1


def test_queue_length_per_window_within_one_person(run):
    truth, reported = truth_windows(run), reported_windows(run)
    common = sorted(set(truth) & set(reported))
    assert len(common) >= 0.9 * len(truth)
    close = [w for w in common if abs(reported[w] - truth[w]) <= 1.0]
    assert len(close) >= 0.9 * len(common), {w: (round(reported[w], 1), truth[w]) for w in common
                                               if w not in close}
    assert abs(max(reported.values()) - max(truth.values())) <= 1.0


def test_exactly_one_queue_alert_when_the_truth_says_so(run):
    rule = run["store"].rules[0]
    t0 = run["camera"].start_time.timestamp()
    truth = truth_windows(run)
    ideal = ideal_incidents(truth, rule)
    assert len(ideal) == 1
    firing = [e for e in run["alerts"].values() if e.to_state == AlertEvent.STATE_FIRING
              and e.from_state == AlertEvent.STATE_PENDING]
    resolved = [e for e in run["alerts"].values() if e.to_state == AlertEvent.STATE_RESOLVED]
    assert len(firing) == 1
    fired = firing[0]
    fired_end = round(seconds(fired.at) - t0)
    near = {w: (round(reported_windows(run).get(w, -1), 1), truth[w]) for w in range(fired_end - 6, fired_end + 2)}
    assert all(truth[w] >= rule.threshold for w in range(fired_end - round(rule.for_s), fired_end)), near
    assert fired_end <= ideal[0][0] + 3, near
    assert fired.value > rule.threshold
    assert abs(fired.value - truth[fired_end - 1]) <= 1.0, near
    assert len(resolved) == 1 and resolved[0].incident_id == fired.incident_id
    resolved_end = round(seconds(resolved[0].at) - t0)
    assert ideal[0][1] is not None and resolved_end <= ideal[0][1] + 3
    assert truth[resolved_end - 1] <= rule.clear_threshold + 1
    alerts_sms = [m for m in run["sms"] if m["body"].startswith("StoreSight ALERT")]
    alerts_email = [m for m in run["email"] if m["Subject"].startswith("[ALERT]")]
    assert len(alerts_sms) == len(alerts_email) == 1
    assert "queue_length" in alerts_sms[0]["body"]
    assert {d.channel for d in fired.deliveries if d.status == d.STATUS_SENT} == {"sms", "email"}


def test_measured_wait_within_fifteen_percent_of_the_truth(run):
    window_s = run["config"].pipeline.aggregate.window_s
    served, weighted = 0, 0.0
    for s in run["stats"]:
        if s.live or not s.HasField("wait_measured_s"):
            continue
        n = round(s.throughput_per_min * s.coverage * window_s / 60)
        served += n
        weighted += n * s.wait_measured_s
    buyers = [v["queue_wait_s"] for v in run["truth"]["visitors"] if v["buys"] and v["queue_wait_s"] is not None]
    truth_mean = sum(buyers) / len(buyers)
    assert abs(served - len(buyers)) <= 1
    assert served and abs(weighted / served - truth_mean) <= 0.15 * truth_mean, (weighted / served, truth_mean)
