"""The live view of one store from the Redis hash ``storesight:live:<store>`` that the
aggregate service writes (zone id -> JSON ``{zone_kind, status, occupancy, queue_length,
wait_estimate_s, capture_time, updated_at}``; each camera is the entry ``camera:<id>``, kind
``camera``, which also has ``effective_fps``, the rate detect runs it at, and each line ``line:<id>``).

A value that is not such a JSON object is skipped and counted, never shown as zero. A zone or
camera of the config with no entry (the pipeline is not writing: the hash expires) is ``no
data``. A camera's rate that is absent, null or not positive is unknown (None), never 0.

>>> from storesight.config import Store
>>> store = Store.model_validate({"id": "s", "timezone": "UTC", "cameras": [{"id": "cam", "source": "x",
...     "zones": [{"id": "q", "kind": "queue", "polygon": [[0, 0], [1, 0], [1, 1]]}]}]})
>>> view = live_view(store, {b"q": b'{"zone_kind": "queue", "status": "ok", "occupancy": 3, "queue_length": 3,'
...                          b' "wait_estimate_s": 42.0, "updated_at": "2026-12-06T10:00:00Z"}',
...                          b"camera:cam": b'{"zone_kind": "camera", "status": "ok", "occupancy": 4,'
...                                         b' "effective_fps": 2.5}'})
>>> view["zones"][0]["queue_length"], view["store_occupancy"], view["cameras"][0]["status"]
(3, 4, 'ok')
>>> view["cameras"][0]["effective_fps"]
2.5
"""

from __future__ import annotations

import json
import logging

from prometheus_client import Counter

from storesight.config import Store

log = logging.getLogger(__name__)

LIVE_KEY = "{prefix}live:{store}"  # prefix: the aggregate's --redis-prefix, "storesight:" by default
CAMERA_KEY = "camera:{camera}"  # the aggregate's entry for a camera as a whole
SKIPPED = Counter("storesight_console_live_values_skipped_total", "Live values that were not valid JSON objects")


def _parse(stored: dict[bytes, bytes]) -> dict[str, dict]:
    values: dict[str, dict] = {}
    for key, raw in stored.items():
        name = key.decode(errors="replace")
        try:
            value = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            value = None
        if not isinstance(value, dict):
            SKIPPED.inc()
            log.warning("live value skipped: not a JSON object", extra={"zone": name})
            continue
        values[name] = value
    return values


def _number(value):
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _rate(value):
    rate = _number(value)
    return rate if rate is not None and rate > 0 else None


def live_view(store: Store, stored: dict[bytes, bytes]) -> dict:
    """What the live page shows for ``store``, from the raw Redis hash."""
    values = _parse(stored)
    zones = []
    for camera in store.cameras:
        for zone in camera.zones:
            value = values.get(zone.id)
            zones.append({
                "id": zone.id, "kind": zone.kind.value, "camera": camera.id,
                "status": str(value.get("status", "unknown")) if value else "no data",
                "occupancy": _number(value.get("occupancy")) if value else None,
                "capacity": zone.capacity,
                "queue_length": _number(value.get("queue_length")) if value else None,
                "wait_s": _number(value.get("wait_estimate_s")) if value else None,
                "updated_at": value.get("updated_at") if value else None,
            })
    for multi in store.multi_zones:  # zones several cameras watch, counted once (aggregate README)
        value = values.get(multi.id)
        zones.append({
            "id": multi.id, "kind": multi.kind.value, "camera": ", ".join(p.camera for p in multi.parts),
            "status": str(value.get("status", "unknown")) if value else "no data",
            "occupancy": _number(value.get("occupancy")) if value else None, "capacity": multi.capacity,
            "queue_length": None, "wait_s": None, "updated_at": value.get("updated_at") if value else None})
    cameras = []
    for camera in store.cameras:
        value = values.get(CAMERA_KEY.format(camera=camera.id))
        cameras.append({"id": camera.id, "status": str(value.get("status", "unknown")) if value else "no data",
                        "occupancy": _number(value.get("occupancy")) if value else None,
                        "effective_fps": _rate(value.get("effective_fps")) if value else None,
                        "capture_time": value.get("capture_time") if value else None})
    known = [c["occupancy"] for c in cameras if c["occupancy"] is not None]
    return {"store": store.id, "zones": zones, "cameras": cameras,
            "store_occupancy": sum(known) if known and len(known) == len(cameras) else None}
