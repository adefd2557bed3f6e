"""The labelled Intel clip through ingest -> detect -> aggregate -> alerts, each service its own
process on the real embedded broker, a private Redis, a local Twilio peer and SMTP server.

Rule (examples/demo-store.yaml, `table-busy`): occupancy of the `table` zone >= 1 for 8 s, clears
at 0, cooldown 0, SMS + e-mail. What the run must show, against visits.csv:
- entries = 6 (new visitors: the camera view's unique tracks; people walk in from the bottom/left
  edge where no line sees them), exits = 6 (crossings of `right-exit` towards the outside);
- one incident per visit that stood at the table long enough, each announced by exactly one SMS
  at the Twilio peer and one e-mail at the SMTP server (the firing message; its resolution adds
  exactly one more of each), and resolved after that visit, before the next one starts;
- privacy: nothing on any topic but frames, in Redis, in any log line or in any file the run
  wrote holds image bytes, face geometry or a per-person attribute (attributes are switched on
  for this run, k = 2, so the face models run); the frames topic has its 60 s retention.

Time at the table per visit, measured on this detector's output at 5 fps (1-s windows whose
every frame had a foot point in the table zone; `storesight detect-file --every 2`):
visit 1: 11 s, 2: 19 s, 3: 17 s, 4: 8 s, 5: 24 s, 6: 10 s. Visits 1, 2, 3, 5 and 6 are clearly
long enough and must each raise exactly one incident. Visit 4 (12.3 s in view) stands at the
table for the rule's 8 s itself: one missed frame decides, so it may raise one incident or none,
never two (in every full run on this machine it raised one: 6 incidents, 12 SMS, 12 e-mails).
Labels give only when a person is in view (visits.csv), not when at the table.

Settings chosen for a deterministic run (stated, not hidden): camera 5 fps, every frame (no
motion gate: it stops sending once the last visitor has left, and with event time driven by
captures only, below, the clip's last windows - the last exit, the last resolution - would then
never close); `realtime: false` with `max_frame_age_s` and `shed_window_s` huge, so
no frame is ever dropped for age or skipped by load shedding whatever the machine's load (backpressure is tested elsewhere);
1-s windows (the rule's 8 s is then 8 windows, not one 10-s window that needs a full 10 s);
`health_advances_watermark: false`, because health reports carry wall-clock time while this
replay's capture times are the clip's own (2026-11-20); and a rate limit high enough for
6 incidents x 2 messages.
"""

from __future__ import annotations

import csv
import time
from collections import defaultdict

import pytest
import yaml

from storesight.config import load_config
from storesight.contracts import AlertEvent, Detections, ZoneStats, seconds
from storesight.topics import ALERTS, DETECTIONS, FRAMES, MINUTE_MS, ZONE_STATS
from tests.e2e.pipeline_run import (
    decode_all,
    frames_retention,
    read_topics,
    run_leftovers,
    wait_until_drained,
)
from tests.support.privacy import assert_no_leaks, check_aggregates
from tests.support.servers import INTEL_CLIP, INTEL_DIR, REPO
from tools.stack import LocalStack

# The run takes ~2-3 min on an idle 2-core machine; the bound is for a loaded one.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

CAMERA, STORE, RULE = "cam-table", "demo-store", "table-busy"
CLIP_FPS = 10.0
MUST_TRIGGER = {1, 2, 3, 5, 6}  # >= 10 s at the table
MAY_TRIGGER = {4}  # ~8 s at the table: the threshold itself
DRAIN_TIMEOUT_S = 900  # a bound for a hung run; ~2 min on an idle 2-core machine


def labelled_visits() -> dict[int, tuple[float, float]]:
    """Visit number -> (first, last) second in view, from the labels."""
    with open(INTEL_DIR / "visits.csv", encoding="utf-8") as fh:
        return {int(r["visit"]): (int(r["first_frame"]) / CLIP_FPS, int(r["last_frame"]) / CLIP_FPS)
                for r in csv.DictReader(fh)}


def write_config(workdir) -> tuple:
    data = yaml.safe_load((REPO / "examples" / "demo-store.yaml").read_text())
    pipeline = data["pipeline"]
    pipeline["aggregate"] = {"window_s": 1, "allowed_lateness_s": 2, "health_advances_watermark": False}
    pipeline["detect"] = {"max_frame_age_s": 1.0e9, "shed_window_s": 1.0e9}
    pipeline["alerts"]["per_recipient_per_hour"] = 100
    store = data["stores"][0]
    store["privacy"] = {"attributes_enabled": True, "k_anonymity": 2}
    camera = store["cameras"][0]
    camera.update(source=str(INTEL_CLIP), fps=5, realtime=False, attributes_enabled=True)
    path = workdir / "intel-e2e.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path, load_config(path)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    if not INTEL_CLIP.exists():
        pytest.skip("labelled Intel clip not found in ../shared/data")
    workdir = tmp_path_factory.mktemp("intel-e2e")
    config_path, config = write_config(workdir)
    started = time.time()
    stack = LocalStack(config_path, workdir / "run", private_redis=True,
                       extra_env={"TMPDIR": str(workdir / "run" / "tmp")})
    (workdir / "run" / "tmp").mkdir(parents=True)
    try:
        stack.start()
        counts = wait_until_drained(stack, [CAMERA], DRAIN_TIMEOUT_S)
        aggregate_metrics = stack.processes["aggregate"].metrics()
        codes = stack.stop_services()  # SIGTERM: alerts finishes its batch and sends before exiting
        bootstrap = stack.broker.bootstrap
        topics = read_topics(bootstrap, [ALERTS.name, ZONE_STATS.name, DETECTIONS.name])
        result = {
            "config": config, "counts": counts, "codes": codes, "started": started,
            "elapsed_s": time.time() - started,
            "alerts": {e.event_id: e for e in decode_all(topics[ALERTS.name], ALERTS.name)},
            "zone_stats": decode_all(topics[ZONE_STATS.name], ZONE_STATS.name),
            "detections": decode_all(topics[DETECTIONS.name], DETECTIONS.name),
            "sms": list(stack.peers.twilio.messages),
            "email": list(stack.peers.smtp.messages),
            "exits_metric": aggregate_metrics,
            "leftovers": run_leftovers(stack, started, REPO),
            "frames_configs": frames_retention(bootstrap),
        }
    finally:
        stack.stop()
    print(f"intel e2e: {result['elapsed_s']:.0f} s, {counts}")
    return result


def incidents(run) -> dict[str, dict[str, AlertEvent]]:
    """incident id -> {"firing": event, "resolved": event} from the audit trail."""
    out: dict[str, dict[str, AlertEvent]] = defaultdict(dict)
    for event in run["alerts"].values():
        if event.rule_id != RULE:
            continue
        if event.to_state == AlertEvent.STATE_FIRING and event.from_state == AlertEvent.STATE_PENDING:
            assert "firing" not in out[event.incident_id], "two firing transitions for one incident"
            out[event.incident_id]["firing"] = event
        elif event.to_state == AlertEvent.STATE_RESOLVED:
            assert "resolved" not in out[event.incident_id], "two resolutions for one incident"
            out[event.incident_id]["resolved"] = event
    return dict(out)


def visit_of(t: float, t0: float) -> int | None:
    for number, (first, last) in labelled_visits().items():
        if first - 1.0 <= t - t0 <= last + 1.0:
            return number
    return None


def clip_start(run) -> float:
    return run["config"].camera(CAMERA)[1].start_time.timestamp()


def test_every_service_ran_to_the_end_and_stopped_cleanly(run):
    assert run["codes"] == {"ingest": 0, "detect": 0, "aggregate": 0, "alerts": 0}
    counts = run["counts"]
    assert counts["detect_dropped"] == 0 and counts["detect_out"] == counts["published"]
    # Every message met its contract: nothing went to a dead-letter topic.
    assert counts["detect_dlq"] == counts["aggregate_dlq"] == counts["alerts_dlq"] == 0
    # 1,394 frames at 10 fps sampled at 5 fps.
    assert counts["published"] == 697
    assert run["config"].store(STORE).rules[0].for_s == 8


def test_six_entries_and_six_exits(run):
    stats = [s for s in run["zone_stats"] if not s.live]
    visitors = sum(s.unique_tracks for s in stats if s.zone_id == f"camera:{CAMERA}" and s.HasField("unique_tracks"))
    exits = sum(s.exits for s in stats if s.zone_id == "line:right-exit" and s.HasField("exits"))
    entries_in = sum(s.entries for s in stats if s.zone_id == "line:right-exit" and s.HasField("entries"))
    assert (visitors, exits, entries_in) == (6, 6, 0)
    from tools.stack import metric_value

    assert metric_value(run["exits_metric"], "storesight_zone_exits_total", store=STORE, line="right-exit") == 6


def test_one_incident_per_visit_long_enough_and_each_resolved_after_it(run):
    t0 = clip_start(run)
    visits = labelled_visits()
    found = incidents(run)
    per_visit: dict[int, list[str]] = defaultdict(list)
    for incident_id, steps in found.items():
        assert set(steps) == {"firing", "resolved"}, f"incident {incident_id} is {set(steps)}"
        since = seconds(steps["firing"].since)
        fired, resolved = seconds(steps["firing"].at), seconds(steps["resolved"].at)
        visit = visit_of(since, t0)
        assert visit is not None, f"incident {incident_id} started at {since - t0:.1f} s, in no visit"
        per_visit[visit].append(incident_id)
        first, last = visits[visit]
        # Fired once the condition held 8 s; resolved after it, once the visitor left the table,
        # before they were out of view (+ the 1-s window) and before the next visit began.
        assert fired - since >= 8
        assert fired < resolved <= t0 + last + 2.0
        following = [f for n, (f, _) in visits.items() if f > first]
        assert not following or resolved < t0 + min(following)
    assert all(len(ids) == 1 for ids in per_visit.values()), per_visit
    assert MUST_TRIGGER <= set(per_visit) <= MUST_TRIGGER | MAY_TRIGGER, sorted(per_visit)


def test_exactly_one_sms_and_one_email_per_incident_transition(run):
    found = incidents(run)
    sms_by_sid = {m["sid"]: m for m in run["sms"]}
    email_by_id = {m["Message-ID"]: m for m in run["email"]}
    firing_sms = [m for m in run["sms"] if m["body"].startswith("StoreSight ALERT")]
    firing_email = [m for m in run["email"] if m["Subject"].startswith("[ALERT]")]
    assert len(firing_sms) == len(firing_email) == len(found) >= len(MUST_TRIGGER)
    assert len(run["sms"]) == len(run["email"]) == 2 * len(found)  # + one resolution message each
    for steps in found.values():
        for kind, headline in (("firing", "ALERT"), ("resolved", "RESOLVED")):
            deliveries = {d.channel: d for d in steps[kind].deliveries}
            assert set(deliveries) == {"sms", "email"}
            assert all(d.status == d.STATUS_SENT and d.attempts == 1 for d in deliveries.values())
            # The audit trail names the provider's id of exactly the message the peer received.
            assert sms_by_sid[deliveries["sms"].provider_id]["body"].startswith(f"StoreSight {headline}")
            assert email_by_id[deliveries["email"].provider_id]["Subject"].startswith(f"[{headline}]")
    assert all(m["to"] == "+15550100" for m in run["sms"])
    assert all(m["To"] == "manager@demo-store.example" for m in run["email"])


def test_nothing_but_frames_carries_pixels_faces_or_per_person_attributes(run):
    leftovers = run["leftovers"]
    # The scan covered what it claims to: every topic but frames, Redis, all four logs, the run's files.
    assert not any(FRAMES.name == name.split()[1] for name in leftovers if name.startswith("topic "))
    assert {f"log {s}.log" for s in ("ingest", "detect", "aggregate", "alerts")} <= set(leftovers)
    assert leftovers["redis keys"] and leftovers[f"topic {DETECTIONS.name}"]
    assert any(name.endswith("run-config.yaml") for name in leftovers)
    assert_no_leaks(leftovers)
    k = run["config"].store(STORE).privacy.k_anonymity
    assert check_aggregates(run["detections"], k) == []
    assert check_aggregates(run["zone_stats"], k) == []
    assert all(isinstance(m, Detections) for m in run["detections"])
    assert all(isinstance(m, ZoneStats) for m in run["zone_stats"])


def test_frames_topic_has_its_bounded_retention(run):
    assert run["frames_configs"]["retention.ms"] == str(MINUTE_MS) == "60000"
    assert run["frames_configs"]["cleanup.policy"] == "delete"
    assert FRAMES.retention_ms == MINUTE_MS
