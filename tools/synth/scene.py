"""The synthetic store's layout in normalised image coordinates, and its store config.

The camera looks at a shop wall (shelves) from the front. People's feet move on three
horizontal lanes: the aisle (in front of the shelves), the queue lane (nearer the camera)
and the till at the right end of the queue lane. Zones are drawn around those lanes with
margins, so a person's foot point is unambiguously inside one zone or none.
"""

from __future__ import annotations

from dataclasses import dataclass

AISLE_Y = 0.48
QUEUE_Y = 0.84
JOIN_Y = 0.66  # just above the queue zone: where people step into the back of the line
TILL_X = 0.835
QUEUE_HEAD_X = 0.70
QUEUE_SPACING = 0.105
QUEUE_SLOTS = 7
AISLE_SPOTS = (0.22, 0.38, 0.54, 0.70)
OFF_LEFT_X = -0.10
OFF_RIGHT_X = 1.10

AISLE_ZONE = [(0.12, 0.38), (0.88, 0.38), (0.88, 0.60), (0.12, 0.60)]
QUEUE_ZONE = [(0.02, 0.70), (0.765, 0.70), (0.765, 0.98), (0.02, 0.98)]
TILL_ZONE = [(0.775, 0.70), (0.90, 0.70), (0.90, 0.98), (0.775, 0.98)]
# Entrance on the left (crossed at aisle height), exit past the till on the right.
ENTRANCE_LINE = ((0.10, 0.30), (0.10, 0.66), (0.5, 0.5))
EXIT_LINE = ((0.93, 0.66), (0.93, 0.99), (0.5, 0.84))

STORE_ID = "synth-store"
CAMERA_ID = "cam-checkout"
START_TIME = "2026-11-20T10:00:00Z"


def person_height(foot_y: float) -> float:
    """Normalised height of a person whose feet are at ``foot_y`` (nearer = lower = taller)."""
    return 0.20 + 0.20 * foot_y


def queue_slot_x(slot: int) -> float:
    return QUEUE_HEAD_X - QUEUE_SPACING * slot


@dataclass(frozen=True)
class QueueRule:
    threshold: int = 5
    clear_threshold: int = 3
    for_s: float = 3.0


def store_config(video_name: str, fps: float, rule: QueueRule) -> dict:
    """The store config (as YAML-ready data) that matches the clip; passes ``config check``."""

    def points(polygon):
        return [[x, y] for x, y in polygon]

    def line(line_id, spec):
        (a, b, inside) = spec
        return {"id": line_id, "a": list(a), "b": list(b), "in_point": list(inside)}

    return {
        "region": "synth",
        "pipeline": {"aggregate": {"window_s": 10}},
        "stores": [{
            "id": STORE_ID,
            "name": "Synthetic store",
            "timezone": "Europe/Lisbon",
            "cameras": [{
                "id": CAMERA_ID,
                "source": video_name,
                "fps": fps,
                "max_width": 768,
                "start_time": START_TIME,
                "zones": [
                    {"id": "aisle", "kind": "aisle", "polygon": points(AISLE_ZONE), "capacity": 6},
                    {"id": "queue", "kind": "queue", "polygon": points(QUEUE_ZONE), "serves": "till"},
                    {"id": "till", "kind": "checkout", "polygon": points(TILL_ZONE), "capacity": 1},
                ],
                "lines": [line("entrance", ENTRANCE_LINE), line("exit", EXIT_LINE)],
            }],
            "rules": [{
                "id": "queue-long",
                "metric": "queue_length",
                "zone": "queue",
                "op": ">",
                "threshold": rule.threshold,
                "clear_threshold": rule.clear_threshold,
                "for_s": rule.for_s,
                "cooldown_s": 600,
                "severity": "warning",
                "only_business_hours": False,
                "channels": ["sms", "email"],
                "recipients": [{"name": "Shift lead", "phone": "+15550100", "email": "lead@synth-store.example"}],
            }],
        }],
    }
