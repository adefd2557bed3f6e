"""The static model of one camera, built once from the config: zones, lines and their rules.

Nothing here changes while records flow; the changing state is in ``state.py``.

>>> from storesight.config import parse_config
>>> config = parse_config({"region": "r", "stores": [{"id": "s", "timezone": "UTC", "cameras": [{"id": "cam", "source": "x.mp4",
...     "zones": [{"id": "q", "kind": "queue", "serves": "till", "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]},
...               {"id": "till", "kind": "checkout", "polygon": [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]}]}]}]})
>>> store, camera = next(config.cameras())
>>> model = CameraModel.from_config(store.id, camera, config.pipeline.aggregate)
>>> model.zone_ids, model.queues, model.slot("till"), model.slot("")
(['q', 'till'], [Queue(till=1), None], 1, 2)
"""

from __future__ import annotations

from dataclasses import dataclass

from services.aggregate.geometry import LineSet, PolygonSet
from services.aggregate.queues import Queue
from services.aggregate.visits import ZoneVisits
from storesight.config import AggregateSettings


@dataclass
class CameraModel:
    store_id: str
    camera_id: str
    zone_ids: list[str]
    zone_kinds: list[str]
    queues: list[Queue | None]  # per zone: its queue rule, None when the zone is not a queue
    line_ids: list[str]
    polygons: PolygonSet
    lines: LineSet
    visits: ZoneVisits
    attributes_k: int | None = None  # k of the store when the camera opted in to attributes, else None

    @classmethod
    def from_config(cls, store_id: str, camera, settings: AggregateSettings,
                    attributes_k: int | None = None) -> CameraModel:
        ids = [z.id for z in camera.zones]
        queues = [Queue(ids.index(z.serves) if z.serves else None) if z.kind.value == "queue" else None
                  for z in camera.zones]
        return cls(
            store_id=store_id,
            camera_id=camera.id,
            zone_ids=ids,
            zone_kinds=[z.kind.value for z in camera.zones],
            queues=queues,
            line_ids=[ln.id for ln in camera.lines],
            polygons=PolygonSet([z.polygon for z in camera.zones]),
            lines=LineSet([(ln.a, ln.b, ln.in_point) for ln in camera.lines]),
            visits=ZoneVisits(camera.id, ids, queues, settings),
            attributes_k=attributes_k,
        )

    @property
    def view_id(self) -> str:
        return f"camera:{self.camera_id}"

    def slot(self, zone_id: str) -> int | None:
        """The slot of a zone id ("" = the camera view, the last slot); None for an unknown zone."""
        if zone_id == "":
            return len(self.zone_ids)
        return self.zone_ids.index(zone_id) if zone_id in self.zone_ids else None
