"""A camera's layout (zones, lines, ignore regions) between the config file and the editor.

Edits are applied to the file's parsed YAML, not to the validated model, so every other key
(other cameras, rules, pipeline settings, relative sources) stays as written. The result is
validated by the same model as ``storesight config check`` (``storesight.config.parse_config``)
and each problem is attached to the shape it concerns (``zones/2``), or to the camera when
it names none.

>>> data = {"region": "r", "stores": [{"id": "s", "timezone": "UTC",
...          "cameras": [{"id": "cam", "source": "clip.mp4"}]}]}
>>> result = apply_layout(data, "cam", {"zones": [{"id": "z", "kind": "area",
...                                                "polygon": [[0.1, 0.1], [0.5, 0.1]]}]})
>>> result.problems
[ShapeProblem(shape='zones/0', message='polygon: needs at least 3 points')]
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

import yaml

from storesight.config import ConfigError, parse_config

SHAPE_KINDS = ("zones", "lines", "ignore_regions")
DECIMALS = 4  # 0.0001 of the picture: finer than any camera's pixel grid at max_width 4096


@dataclass(frozen=True)
class ShapeProblem:
    shape: str  # "zones/2", "lines/0", "ignore_regions/1", or "" for the camera as a whole
    message: str


@dataclass
class LayoutResult:
    data: dict
    problems: list[ShapeProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def yaml_text(self) -> str:
        return dump_yaml(self.data)


def find_camera(data: dict, camera_id: str) -> tuple[int, int]:
    """(store index, camera index) of the camera in the parsed file; KeyError if absent."""
    for i, store in enumerate(data.get("stores") or []):
        for j, camera in enumerate((store or {}).get("cameras") or []):
            if isinstance(camera, dict) and camera.get("id") == camera_id:
                return i, j
    raise KeyError(f"no camera {camera_id!r}")


def camera_layout(data: dict, camera_id: str) -> dict:
    """The editable part of one camera, as the editor receives it (JSON-ready)."""
    i, j = find_camera(data, camera_id)
    camera = data["stores"][i]["cameras"][j]
    return {kind: copy.deepcopy(camera.get(kind) or []) for kind in SHAPE_KINDS}


def _rounded(value):
    if isinstance(value, float):
        return round(value, DECIMALS)
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def apply_layout(data: dict, camera_id: str, layout: dict) -> LayoutResult:
    """A copy of ``data`` with the camera's shapes replaced by ``layout``'s, and its problems."""
    if not isinstance(layout, dict) or set(layout) - set(SHAPE_KINDS):
        return LayoutResult(data, [ShapeProblem("", f"layout must be an object with {', '.join(SHAPE_KINDS)}")])
    new = copy.deepcopy(data)
    i, j = find_camera(new, camera_id)
    camera = new["stores"][i]["cameras"][j]
    for kind in SHAPE_KINDS:
        shapes = layout.get(kind, [])
        if not isinstance(shapes, list):
            return LayoutResult(data, [ShapeProblem("", f"{kind} must be a list")])
        if shapes or kind in camera:
            camera[kind] = _rounded(shapes)
    try:
        parse_config(copy.deepcopy(new), "<console>")
    except ConfigError as exc:
        return LayoutResult(new, [shape_problem(p, i, j) for p in exc.problems])
    return LayoutResult(new, [])


_SHAPE = re.compile(r"^(zones|lines|ignore_regions)\[(\d+)\]\.?(.*)$")


def shape_problem(problem: str, store_index: int, camera_index: int) -> ShapeProblem:
    """Map ``stores[0].cameras[1].zones[2].polygon: reason`` to the shape ``zones/2``."""
    location, _, message = problem.partition(": ")
    prefix = f"stores[{store_index}].cameras[{camera_index}]."
    if location.startswith(prefix):
        match = _SHAPE.match(location[len(prefix):])
        if match:
            kind, index, rest = match.groups()
            return ShapeProblem(f"{kind}/{index}", f"{rest}: {message}" if rest else message)
        return ShapeProblem("", f"{location[len(prefix):]}: {message}")
    # Store-level checks (ids used twice, a queue serving a missing zone) name no shape.
    return ShapeProblem("", problem if message else location)


class _Dumper(yaml.SafeDumper):
    pass


def _list_representer(dumper: yaml.SafeDumper, value: list):
    # Points and short lists of numbers inline ([0.1, 0.2]); everything else in block style.
    flow = all(isinstance(v, int | float) for v in value) or (
        all(isinstance(v, list) for v in value) and all(isinstance(x, int | float) for v in value for x in v))
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow and bool(value))


_Dumper.add_representer(list, _list_representer)


def dump_yaml(data: dict) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
