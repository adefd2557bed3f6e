"""The JSON checkpoint format: a restored state continues exactly like the original, and nothing
but data is ever built from a checkpoint (junk, pickles and foreign classes are refused)."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest

from services.aggregate.aggregator import Aggregator
from services.aggregate.checkpoint import CheckpointError, decode, encode
from services.aggregate.convert import frame_from_proto
from services.aggregate.records import WindowStats
from storesight.config import load_config
from tests.integration.test_aggregate_service import scripted_stream, write_config


def split_outputs(out):
    stats = [o for o in out if isinstance(o, WindowStats)]
    heat = [(o.camera_id, o.window_start, o.counts.tolist()) for o in out if not isinstance(o, WindowStats)]
    return stats, heat


def test_a_restored_state_continues_exactly_like_the_original(tmp_path):
    config = load_config(write_config(tmp_path / "a.yaml", "127.0.0.1:1"))
    records = [frame_from_proto(m) for m in scripted_stream(30.0)]
    original = Aggregator(config)
    original.process(records[:170])  # mid-window, with tracks, line sides and windows open
    saved = decode(encode(original.state, {("detections", 0): 170}, {"detections": "x"}, generation=4))
    assert saved.offsets == {("detections", 0): 170} and saved.generation == 4
    restored = Aggregator(config, state=saved.state)
    assert split_outputs(restored.process(records[170:])) == split_outputs(original.process(records[170:]))
    assert restored.state.line_totals == original.state.line_totals


class _Planted:
    def __reduce__(self):
        return (os.mkdir, ("/nonexistent-should-never-run",))


@pytest.mark.parametrize("blob", [
    b"", b"\x00\x01junk", b"[]", b'{"format": "other"}',
    pickle.dumps(_Planted()),
    json.dumps({"format": "storesight.aggregate.checkpoint", "version": 99}).encode(),
    json.dumps({"format": "storesight.aggregate.checkpoint", "version": 1, "generation": 1, "topic_ids": {},
                "offsets": [], "state": {"$o": "os._wrap_close", "f": {}}}).encode(),
    json.dumps({"format": "storesight.aggregate.checkpoint", "version": 1, "generation": 1, "topic_ids": {},
                "offsets": [], "state": {"$a": "|O", "shape": [1], "data": [1]}}).encode(),
])
def test_anything_but_a_checkpoint_is_refused(blob):
    with pytest.raises(CheckpointError):
        decode(blob)


def test_numbers_survive_including_infinities_and_arrays():
    from services.aggregate.checkpoint import _dec, _enc

    value = {(1, "a"): [float("inf"), -float("inf"), None, {3, 4}], 2.5: np.arange(6, dtype=np.int64).reshape(2, 3)}
    back = _dec(json.loads(json.dumps(_enc(value), allow_nan=False)))
    assert back[(1, "a")] == value[(1, "a")] and (back[2.5] == value[2.5]).all() and back[2.5].dtype == np.int64
