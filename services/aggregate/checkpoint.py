"""Aggregate checkpoints as versioned JSON: data only, never code.

A checkpoint is what a worker needs to resume a partition exactly: the aggregator state, the input
offsets it reflects, the ids of the input topics and the writer's fencing generation. It used to be
a pickle, and unpickling runs whatever the bytes say: anyone able to write the Redis key could run
code in aggregate. This format can only build plain values (numbers, strings, lists, tuples, sets,
maps with any of those as keys, numeric numpy arrays) and instances of the classes the state's type
hints name (``AggregatorState`` and what its fields name, transitively). Instances are made with
``object.__new__`` and their attributes set directly: no constructor, ``__post_init__``,
``__setstate__`` or any other code of the data's choosing runs. Anything else is a
``CheckpointError``, which the worker logs, counts and answers by rebuilding the partition.

>>> from services.aggregate.state import AggregatorState
>>> blob = encode(AggregatorState(late_total={"s1": 2}), {("t", 0): 5}, {"t": "id"}, generation=3)
>>> saved = decode(blob)
>>> saved.state.late_total, saved.offsets, saved.generation
({'s1': 2}, {('t', 0): 5}, 3)
>>> try:
...     decode(b"\\x80\\x04junk")
... except CheckpointError as exc:
...     print(exc)
not a JSON checkpoint (UnicodeDecodeError)
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import dataclass

import numpy as np

from services.aggregate.state import AggregatorState

FORMAT = "storesight.aggregate.checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """The bytes are not a checkpoint this version can read (junk, another format, unknown class)."""


@dataclass
class Saved:
    state: AggregatorState
    offsets: dict[tuple[str, int], int]
    topic_ids: dict[str, str]
    generation: int


def _classes(root: type) -> dict[str, type]:
    """The classes reachable through type hints from ``root`` (fields and ``__init__`` arguments)."""
    found: dict[str, type] = {}
    todo = [root]
    while todo:
        cls = todo.pop()
        name = f"{cls.__module__}.{cls.__qualname__}"
        if name in found:
            continue
        found[name] = cls
        hints: dict = {}
        for target in (cls, cls.__init__):
            try:
                hints.update(typing.get_type_hints(target))
            except Exception:  # noqa: BLE001 - hints that do not resolve name nothing we need
                pass
        stack = list(hints.values())
        while stack:
            hint = stack.pop()
            stack.extend(typing.get_args(hint))
            if isinstance(hint, type) and hint.__module__.startswith(("services.", "storesight.")):
                todo.append(hint)
    return found


_ALLOWED = _classes(AggregatorState)


def _enc(value):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else {"$f": repr(value)}
    if isinstance(value, list):
        return [_enc(v) for v in value]
    if isinstance(value, tuple):
        return {"$t": [_enc(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"$s": [_enc(v) for v in value]}
    if isinstance(value, dict):
        return {"$m": [[_enc(k), _enc(v)] for k, v in value.items()]}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return {"$a": value.dtype.str, "shape": list(value.shape), "data": [_enc(v) for v in value.ravel().tolist()]}
    name = f"{type(value).__module__}.{type(value).__qualname__}"
    if _ALLOWED.get(name) is not type(value):
        raise CheckpointError(f"{name} is not part of the checkpointed state")
    fields = ({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
              if dataclasses.is_dataclass(value) else vars(value))
    return {"$o": name, "f": {k: _enc(v) for k, v in fields.items()}}


def _dec(value):
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, list):
        return [_dec(v) for v in value]
    if not isinstance(value, dict) or len(value) == 0:
        raise CheckpointError(f"unexpected {type(value).__name__} in a checkpoint")
    if "$f" in value:
        if value["$f"] not in ("inf", "-inf", "nan"):
            raise CheckpointError("bad float")
        return float(value["$f"])
    if "$t" in value:
        return tuple(_dec(v) for v in value["$t"])
    if "$s" in value:
        return {_dec(v) for v in value["$s"]}
    if "$m" in value:
        return {_dec(k): _dec(v) for k, v in value["$m"]}
    if "$a" in value:
        dtype = np.dtype(value["$a"])
        if dtype.kind not in "biuf":
            raise CheckpointError("non-numeric array")
        return np.asarray(value["data"], dtype=dtype).reshape(value["shape"])
    if "$o" in value:
        cls = _ALLOWED.get(value["$o"])
        if cls is None:
            raise CheckpointError(f"class {value['$o']!r} is not part of the checkpointed state")
        obj = object.__new__(cls)  # no constructor, no __post_init__, no __setstate__
        for key, field_value in value["f"].items():
            object.__setattr__(obj, key, _dec(field_value))
        return obj
    raise CheckpointError("unknown tag")


def encode(state: AggregatorState, offsets: dict[tuple[str, int], int], topic_ids: dict[str, str],
           generation: int) -> bytes:
    doc = {"format": FORMAT, "version": VERSION, "generation": generation, "topic_ids": topic_ids,
           "offsets": [[t, p, o] for (t, p), o in sorted(offsets.items())], "state": _enc(state)}
    return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()


def decode(blob: bytes) -> Saved:
    try:
        doc = json.loads(blob.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"not a JSON checkpoint ({type(exc).__name__})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError("not an aggregate checkpoint")
    if doc.get("version") != VERSION:
        raise CheckpointError(f"checkpoint version {doc.get('version')!r}, this worker reads {VERSION}")
    try:
        state = _dec(doc["state"])
        offsets = {(str(t), int(p)): int(o) for t, p, o in doc["offsets"]}
        saved = Saved(state, offsets, {str(k): str(v) for k, v in doc["topic_ids"].items()}, int(doc["generation"]))
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - any malformed structure is a bad checkpoint, not a crash
        raise CheckpointError(f"malformed checkpoint ({type(exc).__name__})") from None
    if not isinstance(saved.state, AggregatorState):
        raise CheckpointError("checkpoint state is not an AggregatorState")
    return saved

