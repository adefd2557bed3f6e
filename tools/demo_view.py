"""What ``storesight demo`` shows: the pipeline's outputs folded into one view.

Fed from the places a store manager's tools read: the live hash in Redis (per-zone occupancy,
queue, wait), closed windows on ``storesight.zone-stats`` (entries/exits/visitors), camera
health, incident transitions on ``storesight.alerts`` and the messages the local SMS/e-mail
peers received. Rendered as a rich table (terminal) or as plain lines (logs, tests).
Unknown stays unknown: a zone without a fresh value shows "unknown", never 0.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import deque
from dataclasses import dataclass, field

from services.alerts.message import mask

STATES = {1: "inactive", 2: "pending", 3: "firing", 4: "resolved"}
DELIVERY = {1: "sent", 2: "failed", 3: "rejected", 4: "rate-limited", 5: "suppressed"}


def _fmt(value, digits: int = 0, unit: str = "") -> str:
    if value is None or value != value:  # None or NaN
        return "unknown"
    return f"{value:.{digits}f}{unit}"


def _clock(ts) -> str:
    """A protobuf Timestamp or epoch seconds -> HH:MM:SS UTC."""
    seconds = ts if isinstance(ts, int | float) else ts.seconds + ts.nanos / 1e9
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%H:%M:%S")


@dataclass
class Totals:
    entries: int = 0
    exits: int = 0
    visitors: int = 0
    windows: int = 0
    unknown_windows: int = 0


@dataclass
class DemoView:
    store_ids: list[str]
    events: deque = field(default_factory=lambda: deque(maxlen=12))
    live: dict[tuple[str, str], dict] = field(default_factory=dict)
    totals: dict[tuple[str, str], Totals] = field(default_factory=dict)
    cameras: dict[str, tuple[str, str]] = field(default_factory=dict)  # camera -> (UP/DOWN, reason)
    detector_fps: dict[str, float] = field(default_factory=dict)  # camera -> effective rate (Detections)
    detector: dict[str, dict[str, float]] = field(default_factory=dict)  # camera -> processed/skipped/dropped
    incidents: dict[str, dict] = field(default_factory=dict)
    sms_seen: int = 0
    emails_seen: int = 0
    new_lines: list[str] = field(default_factory=list)  # events not yet printed (plain mode)
    rate_note: str = ""  # the camera rate the demo runs at, and where it came from
    # The clip's truth (tools/clip_truth.py): zone id -> {"entries", "exits"}; empty = unknown.
    truth: dict[str, dict[str, int]] = field(default_factory=dict)

    def _event(self, text: str) -> None:
        self.events.append(text)
        self.new_lines.append(text)

    # ------------------------------------------------------------ inputs

    def apply_live(self, store_id: str, stored: dict[bytes, bytes]) -> None:
        """The Redis hash storesight:live:<store>: zone id -> JSON (aggregate README)."""
        for key in [k for k in self.live if k[0] == store_id]:
            if key[1].encode() not in stored:
                del self.live[key]  # expired: the pipeline stopped writing
        for zone, value in stored.items():
            self.live[(store_id, zone.decode())] = json.loads(value)

    def apply_stats(self, stats) -> None:
        """A closed window from storesight.zone-stats (live snapshots are skipped)."""
        if stats.live:
            return
        totals = self.totals.setdefault((stats.store_id, stats.zone_id), Totals())
        totals.windows += 1
        if stats.status == 3:  # UNKNOWN: no observation, nothing to add
            totals.unknown_windows += 1
            return
        totals.entries += stats.entries if stats.HasField("entries") else 0
        totals.exits += stats.exits if stats.HasField("exits") else 0
        if stats.zone_kind == "camera" and stats.HasField("unique_tracks"):
            totals.visitors += stats.unique_tracks

    def apply_health(self, health) -> None:
        status = {1: "UP", 2: "DOWN"}.get(health.status, "?")
        previous = self.cameras.get(health.camera_id)
        self.cameras[health.camera_id] = (status, health.reason)
        if previous is None or previous[0] != status:
            why = f" ({health.reason})" if health.reason else ""
            self._event(f"camera {health.camera_id} {status}{why}")

    def apply_detections(self, message) -> None:
        """A Detections message: the camera's effective detection rate (frames run a second)."""
        self.detector_fps[message.camera_id] = message.effective_fps

    def apply_detector_counts(self, counts: dict[str, dict[str, float]]) -> None:
        """Per camera: frames the detector ran (processed), skipped (load shedding), dropped (stale)."""
        self.detector = counts

    def detector_line(self) -> str:
        parts = []
        for camera in sorted(set(self.detector) | set(self.detector_fps)):
            c = self.detector.get(camera, {})
            fps = self.detector_fps.get(camera)
            parts.append(f"{camera}: {_fmt(fps, 1)} fps effective, processed {c.get('processed', 0):.0f}, "
                         f"skipped {c.get('skipped', 0):.0f}")
        return "detector: " + ("; ".join(parts) if parts else "no frame run yet")

    def apply_alert(self, event) -> None:
        to_state = STATES.get(event.to_state, "?")
        scope = event.zone_id or event.camera_id
        row = self.incidents.setdefault(event.incident_id, {"rule": event.rule_id, "scope": scope})
        if not (to_state == "inactive" and row.get("state") == "resolved"):  # end of cooldown: keep "resolved"
            row.update(state=to_state, value=event.value, threshold=event.threshold)
        if to_state == "firing" and event.from_state != 3:
            row["fired"] = _clock(event.at)
        if to_state == "resolved":
            row["resolved"] = _clock(event.at)
        if to_state == "inactive" and not event.action:
            if event.from_state == 2:  # pending, not confirmed: an unknown window or the value dropped
                self._event(f"incident pending -> cancelled {event.rule_id} on {scope} at {_clock(event.at)} UTC")
            return
        sent = ", ".join(f"{d.channel} {d.recipient} {DELIVERY.get(d.status, '?')}" for d in event.deliveries)
        label = event.action.upper() if event.action else ("FIRED" if to_state == "firing" else to_state.upper())
        self._event(f"incident {label} {event.rule_id} on {scope}: value {_fmt(event.value, 2)} "
                    f"(threshold {event.threshold:g}) at {_clock(event.at)} UTC"
                    + (f" -> {sent}" if sent else ""))

    def apply_peers(self, sms: list[dict], emails: list) -> None:
        """Messages the local Twilio and SMTP peers accepted since the last call."""
        for message in sms[self.sms_seen:]:
            body = " | ".join(line for line in message["body"].splitlines() if line.strip())
            self._event(f"SMS to {mask(message['to'])}: {body}")
        self.sms_seen = len(sms)
        for message in emails[self.emails_seen:]:
            self._event(f"e-mail to {mask(str(message['To']))}: {message['Subject']}")
        self.emails_seen = len(emails)

    # ------------------------------------------------------------ outputs

    def zone_rows(self) -> list[tuple[str, ...]]:
        """(zone, kind, status, occupancy, queue, wait, entries, exits) per zone/line/camera view."""
        keys = sorted(set(self.live) | set(self.totals), key=lambda k: (k[0], k[1].count(":"), k[1]))
        rows = []
        for store_id, zone_id in keys:
            live = self.live.get((store_id, zone_id), {})
            totals = self.totals.get((store_id, zone_id), Totals())
            kind = live.get("zone_kind") or zone_id.split(":")[0]
            status = live.get("status", "-" if kind == "line" else "unknown")
            occupancy = _fmt(live.get("occupancy")) if kind != "line" else "-"
            queue = _fmt(live.get("queue_length")) if kind == "queue" else "-"
            wait = _fmt(live.get("wait_estimate_s"), 0, " s") if kind == "queue" else "-"
            entries = str(totals.visitors if kind == "camera" else totals.entries)
            rows.append((zone_id, kind, status, occupancy, queue, wait, entries, str(totals.exits)))
        return rows

    def truth_of(self, zone_id: str) -> tuple[str, str]:
        """(entries, exits) of the clip's truth for a zone, as text; "-" where the demo knows none."""
        row = self.truth.get(zone_id)
        return (str(row["entries"]), str(row["exits"])) if row else ("-", "-")

    def status_line(self) -> str:
        def truth(zone_id: str) -> str:
            return " truth={}/{}".format(*self.truth_of(zone_id)) if zone_id in self.truth else ""

        zones = " | ".join(f"{r[0]} {r[2]} occ={r[3]} queue={r[4]} wait={r[5]} in={r[6]} out={r[7]}{truth(r[0])}"
                           for r in self.zone_rows())
        cams = " ".join(f"{c}={s}" for c, (s, _) in sorted(self.cameras.items()))
        return (f"live: {zones or 'waiting for the first frames'} | cameras: {cams or 'no report yet'} | "
                f"{self.detector_line()}")

    def truth_lines(self) -> list[str]:
        """Live entries/exits beside the clip's truth, one line per zone/line the truth covers."""
        live = {r[0]: (r[6], r[7]) for r in self.zone_rows()}
        lines = []
        for zone_id in sorted(self.truth, key=lambda z: (z.count(":"), z)):
            entries, exits = live.get(zone_id, ("0", "0"))
            want_in, want_out = self.truth_of(zone_id)
            lines.append(f"{zone_id}: live {entries} in / {exits} out, truth {want_in} in / {want_out} out "
                         f"(off by {int(entries) - int(want_in):+d} / {int(exits) - int(want_out):+d})")
        return lines

    def take_new_lines(self) -> list[str]:
        lines, self.new_lines = self.new_lines, []
        return lines

    def render(self, header: str):
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table

        zones = Table(title="Zones (live occupancy from Redis; entries/exits from closed windows)",
                      expand=True, title_justify="left")
        columns = [("zone", "left"), ("kind", "left"), ("status", "left"), ("occupancy", "right"),
                   ("queue", "right"), ("wait", "right"), ("entries", "right"), ("exits", "right")]
        if self.truth:  # the clip's truth beside the live counts (whole clip: tools/clip_truth.py)
            columns += [("truth in", "right"), ("truth out", "right")]
        for name, justify in columns:
            zones.add_column(name, justify=justify)
        for row in self.zone_rows():
            style = "dim" if row[2] == "unknown" else None
            zones.add_row(*row, *(self.truth_of(row[0]) if self.truth else ()), style=style)
        cameras = Table(title="Cameras", expand=True, title_justify="left")
        cameras.add_column("camera")
        cameras.add_column("status")
        cameras.add_column("reason")
        for name in ("detector fps", "processed", "skipped"):
            cameras.add_column(name, justify="right")
        for camera, (status, reason) in sorted(self.cameras.items()):
            counts = self.detector.get(camera, {})
            cameras.add_row(camera, status, reason, _fmt(self.detector_fps.get(camera), 1),
                            _fmt(counts.get("processed")), _fmt(counts.get("skipped")),
                            style="green" if status == "UP" else "red")
        incidents = Table(title="Incidents", expand=True, title_justify="left")
        for name in ("rule", "scope", "state", "value", "fired", "resolved"):
            incidents.add_column(name)
        for row in self.incidents.values():
            if row["state"] == "inactive" and "fired" not in row:
                continue  # a pending incident that was cancelled: only in the event list
            incidents.add_row(row["rule"], row["scope"], row["state"], _fmt(row["value"], 0),
                              row.get("fired", "-"), row.get("resolved", "-"),
                              style="bold red" if row["state"] == "firing" else None)
        events = Panel("\n".join(self.events) or "nothing yet", title="Events, SMS and e-mail (local peers)")
        return Group(header, zones, cameras, incidents, events)
