"""The demo's view: unknown stays unknown, closed windows add up, incidents read as they happened."""

from __future__ import annotations

import json

from storesight.contracts import AlertEvent, CameraHealth, ZoneStats
from tools.demo_view import DemoView

A = AlertEvent


def stats(zone: str, kind: str, status=ZoneStats.STATUS_OK, live=False, **values) -> ZoneStats:
    return ZoneStats(store_id="s", zone_id=zone, zone_kind=kind, status=status, live=live, **values)


def alert(from_state, to_state, value=1.0, t=1_000, action="") -> AlertEvent:
    event = AlertEvent(incident_id="i1", rule_id="busy", store_id="s", zone_id="table", from_state=from_state,
                       to_state=to_state, value=value, threshold=1, action=action)
    event.at.FromSeconds(t)
    return event


def test_closed_windows_add_up_and_unknown_or_live_records_add_nothing():
    view = DemoView(["s"])
    view.apply_stats(stats("table", "area", entries=1, exits=0))
    view.apply_stats(stats("table", "area", entries=2, exits=3))
    view.apply_stats(stats("table", "area", status=ZoneStats.STATUS_UNKNOWN))
    view.apply_stats(stats("table", "area", live=True, entries=9))
    view.apply_stats(stats("camera:c", "camera", unique_tracks=2, exits=1))
    rows = {r[0]: r for r in view.zone_rows()}
    assert rows["table"][6:] == ("3", "3")
    assert rows["camera:c"][6:] == ("2", "1")  # the camera view's entries are its visitors
    assert view.totals[("s", "table")].unknown_windows == 1


def test_live_values_unknown_and_expired_zones_show_unknown_not_zero():
    view = DemoView(["s"])
    ok = {"zone_kind": "area", "status": "ok", "occupancy": 2, "queue_length": None, "wait_estimate_s": None}
    gone = {"zone_kind": "area", "status": "unknown", "occupancy": None}
    view.apply_live("s", {b"table": json.dumps(ok).encode(), b"door": json.dumps(gone).encode()})
    rows = {r[0]: r for r in view.zone_rows()}
    assert rows["table"][2:4] == ("ok", "2") and rows["door"][2:4] == ("unknown", "unknown")
    view.apply_live("s", {})  # the hash expired: nothing is known any more
    assert view.zone_rows() == []


def test_incident_fired_resolved_and_cancelled_pending_are_told_apart():
    view = DemoView(["s"])
    view.apply_alert(alert(A.STATE_INACTIVE, A.STATE_PENDING))
    view.apply_alert(alert(A.STATE_PENDING, A.STATE_INACTIVE, value=float("nan")))
    view.apply_alert(alert(A.STATE_INACTIVE, A.STATE_PENDING, t=1_004))
    view.apply_alert(alert(A.STATE_PENDING, A.STATE_FIRING, t=1_008))
    view.apply_alert(alert(A.STATE_FIRING, A.STATE_RESOLVED, value=0.0, t=1_020))
    view.apply_alert(alert(A.STATE_RESOLVED, A.STATE_INACTIVE, value=0.0, t=1_020))
    events = list(view.events)
    assert "cancelled" in events[1] and "value unknown" not in events[1]
    assert events[3].startswith("incident FIRED busy on table") and events[4].startswith("incident RESOLVED")
    row = view.incidents["i1"]
    assert (row["state"], row["fired"], row["resolved"]) == ("resolved", "00:16:48", "00:17:00")


def test_health_changes_are_events_and_peer_messages_are_masked():
    view = DemoView(["s"])
    view.apply_health(CameraHealth(camera_id="c", status=CameraHealth.STATUS_UP))
    view.apply_health(CameraHealth(camera_id="c", status=CameraHealth.STATUS_UP))
    view.apply_health(CameraHealth(camera_id="c", status=CameraHealth.STATUS_DOWN, reason="end of file"))
    view.apply_peers([{"to": "+15550100123", "body": "ALERT\ntable"}], [])
    assert view.take_new_lines() == ["camera c UP", "camera c DOWN (end of file)",
                                     "SMS to +155***0123: ALERT | table"]
    assert view.take_new_lines() == []


def test_the_view_shows_the_detectors_effective_rate_and_its_processed_and_skipped_frames():
    from storesight.contracts import Detections

    view = DemoView(["s1"])
    assert view.detector_line() == "detector: no frame run yet"
    view.apply_detections(Detections(camera_id="cam-1", effective_fps=2.96))
    view.apply_detector_counts({"cam-1": {"processed": 250.0, "skipped": 580.0}})
    assert view.detector_line() == "detector: cam-1: 3.0 fps effective, processed 250, skipped 580"
    assert view.detector_line() in view.status_line()


def test_the_clips_truth_is_shown_beside_the_live_counts():
    view = DemoView(["s"], truth={"table": {"entries": 3, "exits": 2}, "line:door": {"entries": 1, "exits": 0}})
    view.apply_stats(stats("table", "area", entries=4, exits=2))
    view.apply_stats(stats("other", "area", entries=1, exits=1))
    line = view.status_line()
    assert "in=4 out=2 truth=3/2" in line and "in=1 out=1 |" in line  # a zone without truth shows none
    assert view.truth_lines() == ["table: live 4 in / 2 out, truth 3 in / 2 out (off by +1 / +0)",
                                  "line:door: live 0 in / 0 out, truth 1 in / 0 out (off by -1 / +0)"]
