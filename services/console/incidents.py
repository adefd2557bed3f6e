"""Open incidents, from the alerts service's audit trail (``storesight.alerts``).

``IncidentBoard`` keeps, per store, the incidents whose last transition left them firing; a
resolved or cancelled incident leaves the board. ``follow_alerts`` feeds it from the topic
in a background thread: it reads the whole topic from the start at every start of the
console (consumer group ``storesight-console``, never committed), so a restarted console
shows the same board. Acknowledging uses the alerts service's own signed link
(``storesight.ack``), exactly as the SMS and e-mail do.

>>> from storesight.v1 import alert_pb2
>>> board = IncidentBoard()
>>> event = alert_pb2.AlertEvent(incident_id="i1", store_id="s", rule_id="busy", zone_id="till",
...     metric="occupancy", to_state=alert_pb2.AlertEvent.STATE_FIRING, value=3, threshold=2)
>>> board.apply(event); [i["incident_id"] for i in board.open("s")]
['i1']
>>> board.apply(alert_pb2.AlertEvent(incident_id="i1", store_id="s", to_state=alert_pb2.AlertEvent.STATE_RESOLVED))
>>> board.open("s")
[]
"""

from __future__ import annotations

import logging
import threading

from storesight.v1 import alert_pb2

log = logging.getLogger(__name__)

FIRING = alert_pb2.AlertEvent.STATE_FIRING
GROUP = "storesight-console"  # never committed: every start reads the topic from the beginning


class IncidentBoard:
    def __init__(self):
        self._open: dict[str, dict[str, dict]] = {}
        self._lock = threading.Lock()
        self.caught_up = threading.Event()  # set once the topic has been read to its end

    def apply(self, event: alert_pb2.AlertEvent) -> None:
        with self._lock:
            store = self._open.setdefault(event.store_id, {})
            if event.to_state != FIRING:
                store.pop(event.incident_id, None)
                return
            row = store.setdefault(event.incident_id, {
                "incident_id": event.incident_id, "rule": event.rule_id, "metric": event.metric,
                "scope": event.zone_id or event.camera_id, "severity": event.severity,
                "since": event.since.ToJsonString() if event.HasField("since") else None,
                "acknowledged": False})
            row.update(value=event.value, threshold=event.threshold,
                       at=event.at.ToJsonString() if event.HasField("at") else None)
            if event.action == "ack":
                row["acknowledged"] = True

    def acknowledged(self, store_id: str, incident_id: str) -> None:
        """The alerts service accepted the acknowledgement (its own event follows on the topic)."""
        with self._lock:
            row = self._open.get(store_id, {}).get(incident_id)
            if row is not None:
                row["acknowledged"] = True

    def open(self, store_id: str) -> list[dict]:
        with self._lock:
            return sorted((dict(r) for r in self._open.get(store_id, {}).values()), key=lambda r: r["since"] or "")

    def find(self, store_id: str, incident_id: str) -> dict | None:
        with self._lock:
            row = self._open.get(store_id, {}).get(incident_id)
            return dict(row) if row else None


def follow_alerts(board: IncidentBoard, kafka, topic, stopping: threading.Event,
                  group: str = GROUP) -> None:
    """Feed ``board`` from ``topic`` until ``stopping``; run in a daemon thread."""
    from storesight.bus import TypedConsumer

    consumer = TypedConsumer(kafka, [topic], group=group, client_id="storesight-console")
    try:
        idle = 0
        while not stopping.is_set():
            records = consumer.poll(timeout_ms=500)
            for record in records:
                board.apply(record.value)
            idle = 0 if records else idle + 1
            if idle >= 2 and consumer.assignment():
                board.caught_up.set()  # nothing new in two polls: the board shows the topic's state
    finally:
        consumer.close()
