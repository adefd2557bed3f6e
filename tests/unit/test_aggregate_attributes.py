"""Aggregate carries detect's k-anonymous attribute groups into ZoneStats: whole, merged, never split."""

from __future__ import annotations

import pickle

import pytest

from services.aggregate.aggregator import Aggregator
from services.aggregate.attributes import merge, metric_values, rejection, window_of
from services.aggregate.convert import frame_from_proto, zone_stats_to_proto
from services.aggregate.records import FrameRecord, WindowStats
from storesight import attributes as wire
from storesight.attributes import AttributeGroup
from storesight.config import parse_config
from storesight.contracts import Detections

ZONES = [{"id": "endcap", "kind": "area", "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]},
         {"id": "aisle", "kind": "aisle", "polygon": [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]}]


def make_config(store_on=True, camera_on=True, k=5):
    camera = {"id": "cam-a", "source": "x.mp4", "attributes_enabled": camera_on, "zones": ZONES}
    return parse_config({
        "region": "r", "pipeline": {"aggregate": {"window_s": 10, "allowed_lateness_s": 2, "stale_after_s": 2}},
        "stores": [{"id": "s1", "timezone": "UTC", "cameras": [camera],
                    "privacy": {"attributes_enabled": store_on, "k_anonymity": k}}]})


def group(zone="endcap", start=0.0, tracks=5, happy=None, end=None):
    """A group of ``tracks`` tracks: ``happy`` of them happy, the rest neutral; all 30-44, all female."""
    happy = tracks if happy is None else happy
    expressions = {"happy": happy, "neutral": tracks - happy} if happy < tracks else {"happy": happy}
    return AttributeGroup(zone, start, start + 10.0 if end is None else end, tracks, expressions,
                          {"30-44": tracks}, {"female": tracks})


def stream(carry: dict[float, list[AttributeGroup]], until=30.0):
    """cam-a at 5 fps from 0 to ``until`` (one person in the endcap); ``carry``: time -> groups on that frame."""
    out = []
    for i in range(int(until * 5)):
        t = i / 5
        out.append(FrameRecord("cam-a", t, [1], [(0.2, 0.5)], attributes=list(carry.get(round(t, 1), []))))
    return out


def stats(outputs) -> dict[tuple[str, float], WindowStats]:
    return {(o.zone_id, o.window_start): o for o in outputs if isinstance(o, WindowStats)}


# ------------------------------------------------------------------ the rule


def test_rejections():
    assert rejection(group(tracks=5), k=5) is None
    assert rejection(group(tracks=4), k=5) == "below_k"
    assert rejection(group(tracks=9), k=None) == "not_opted_in"
    odd = AttributeGroup("endcap", 0, 10, 5, {"smug": 5}, {"30-44": 5}, {"female": 5})
    assert rejection(odd, k=5) == "bad_counts"  # a label outside the fixed set: unbounded metrics
    inflated = AttributeGroup("endcap", 0, 10, 5, {"happy": 6}, {"30-44": 5}, {"female": 5})
    assert rejection(inflated, k=5) == "bad_counts"


def test_window_of_a_group_must_fit_one_aggregate_window():
    assert window_of(group(start=20.0), 10) == 20.0
    assert window_of(group(start=20.0, end=25.0), 10) == 20.0  # a shorter detect window inside ours
    assert window_of(group(start=20.0, end=30.0 + 1e-9), 10) == 20.0  # float rounding
    assert window_of(group(start=25.0, end=35.0), 10) is None  # would have to be split: never
    assert window_of(group(start=0.0), 60) == 0.0  # a 10 s detect window inside a 60 s one


def test_merging_two_groups_adds_counts_and_keeps_k():
    a, b = group(tracks=5, happy=2), group(tracks=6, happy=6)
    merged = merge(merge(None, a), b)
    assert merged.distinct_tracks == 11 >= 5
    assert merged.expressions == {"happy": 8, "neutral": 3}
    assert merged.age_bands == {"30-44": 11} and merged.genders == {"female": 11}
    assert rejection(merged, k=5) is None


def test_metric_values_cover_the_fixed_label_sets():
    values = metric_values(group(tracks=5, happy=2))
    assert values["expression"] == {"angry": 0, "disgust": 0, "fear": 0, "happy": 2, "sad": 0, "surprise": 0,
                                    "neutral": 3}
    assert values["band"] == {"0-17": 0, "18-29": 0, "30-44": 5, "45-59": 0, "60+": 0}
    assert values["gender"] == {"female": 5, "male": 0}


# ------------------------------------------------------------------ through the aggregator


def test_groups_go_whole_into_their_zone_and_window():
    carry = {
        5.0: [group("endcap", 0.0, tracks=5, happy=1)],  # inside its own window
        11.0: [group("", 0.0, tracks=7),  # carried by a window-1 frame, window 0 still open: joins it
               group("aisle", 0.0, tracks=4),  # below k: dropped whole
               group("nowhere", 0.0, tracks=5)],  # not a zone of this camera
        12.0: [group("endcap", 10.0, tracks=5), group("endcap", 10.0, tracks=6, happy=0)],  # merged: 11
        13.0: [group("endcap", 0.0, tracks=8)],  # window 0 closed at 12: late, never merged
    }
    agg = Aggregator(make_config())
    got = stats(agg.process(stream(carry)) + agg.flush())
    w0 = got[("endcap", 0.0)].attributes
    assert (w0.distinct_tracks, w0.expressions) == (5, {"happy": 1, "neutral": 4})
    assert got[("camera:cam-a", 0.0)].attributes.distinct_tracks == 7
    assert got[("camera:cam-a", 0.0)].attributes.zone_id == ""  # the camera-level group, as detect named it
    assert got[("aisle", 0.0)].attributes is None
    w1 = got[("endcap", 10.0)].attributes
    assert w1.distinct_tracks == 11 and w1.expressions == {"happy": 5, "neutral": 6}
    assert got[("endcap", 0.0)].late_records == 0 and got[("endcap", 10.0)].late_records == 1  # next to close
    assert got[("endcap", 20.0)].attributes is None  # nothing rode along for window 2
    assert dict(agg.dropped_groups) == {("s1", "below_k"): 1, ("s1", "unknown_zone"): 1, ("s1", "late"): 1}
    # Every published group covers >= k tracks.
    assert all(s.attributes.distinct_tracks >= 5 for s in got.values() if s.attributes is not None)


@pytest.mark.parametrize("store_on, camera_on", [(False, True), (True, False)])
def test_groups_from_a_camera_not_opted_in_are_dropped(store_on, camera_on):
    agg = Aggregator(make_config(store_on, camera_on))
    got = stats(agg.process(stream({5.0: [group("endcap", 0.0, tracks=9)]})))
    assert all(s.attributes is None for s in got.values())
    assert dict(agg.dropped_groups) == {("s1", "not_opted_in"): 1}


def test_the_store_k_is_enforced_again():
    agg = Aggregator(make_config(k=8))
    got = stats(agg.process(stream({5.0: [group("endcap", 0.0, tracks=7)], 6.0: [group("aisle", 0.0, tracks=8)]})))
    assert got[("endcap", 0.0)].attributes is None and got[("aisle", 0.0)].attributes.distinct_tracks == 8


def test_checkpointed_state_keeps_groups_across_a_restart():
    carry = {12.0: [group("endcap", 10.0, tracks=5)], 13.6: [group("endcap", 10.0, tracks=6, happy=0)]}
    recs = stream(carry)
    whole = stats(Aggregator(make_config()).process(recs))
    first = Aggregator(make_config())
    out = first.process(recs[:66])  # up to t=13.0: one of the two groups of window 1 is in the state
    second = Aggregator(make_config(), state=pickle.loads(pickle.dumps(first.state)))
    out += second.process(recs[66:])
    assert stats(out) == whole
    assert stats(out)[("endcap", 10.0)].attributes.distinct_tracks == 11


def test_a_checkpoint_from_before_attributes_still_loads():
    first = Aggregator(make_config())
    first.process(stream({}, until=5.0))
    for cam in first.state.cameras.values():
        for win in cam.windows.values():
            del win.__dict__["attributes"]  # what an older pickle holds
    second = Aggregator(make_config(), state=pickle.loads(pickle.dumps(first.state)))
    got = stats(second.process(stream({12.0: [group("endcap", 0.0)]}, until=30.0)[25:]))
    assert got[("endcap", 0.0)].attributes.distinct_tracks == 5


# ------------------------------------------------------------------ protobuf


def test_groups_read_from_detections_and_written_to_zone_stats():
    msg = Detections(camera_id="cam-a", store_id="s1")
    msg.capture_time.FromSeconds(12)
    msg.attributes.append(wire.to_proto(group("endcap", 0.0, tracks=5, happy=3)))
    record = frame_from_proto(msg)
    assert record.attributes == [group("endcap", 0.0, tracks=5, happy=3)]
    out = WindowStats("s1", "endcap", "area", 0.0, 10.0, "OK", 1.0, attributes=record.attributes[0])
    written = zone_stats_to_proto(out)
    assert len(written.attributes) == 1 and written.attributes[0] == msg.attributes[0]
    assert not zone_stats_to_proto(WindowStats("s1", "endcap", "area", 0.0, 10.0, "OK", 1.0)).attributes
