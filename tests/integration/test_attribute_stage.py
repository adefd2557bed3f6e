"""The attribute stage end to end on a real face: k-anonymity on the wire, nothing per person anywhere."""

import datetime as dt
import logging
from pathlib import Path

import cv2
import pytest
from prometheus_client import generate_latest

from storesight.config import parse_config
from storesight.contracts import to_timestamp
from storesight.v1.detections_pb2 import Box, Detections, Person, Point
from tests.support.privacy import assert_no_leaks, check_aggregates

T0 = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)


def config(enabled: bool = True):
    camera = {"id": "cam-s", "source": "/dev/null", "attributes_enabled": enabled,
              "zones": [{"id": "endcap-1", "kind": "aisle", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}]}
    return parse_config({
        "region": "r",
        "pipeline": {"detect": {"attributes_every_n_frames": 1, "attributes_head_fraction": 0.6}},
        "stores": [{"id": "s", "timezone": "UTC", "cameras": [camera],
                    "privacy": {"attributes_enabled": enabled, "k_anonymity": 5, "min_observations": 3}}],
    })


@pytest.fixture(scope="module")
def models():
    from services.detect.attributes.stage import AttributeModels

    return AttributeModels.load()  # a missing model file is a failure, not a skip


@pytest.fixture(scope="module")
def portrait():
    import matplotlib

    return cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))


def frame(seq: int, seconds: float, track_ids: list[int]) -> Detections:
    persons = [Person(box=Box(x1=0.2, y1=0.15, x2=0.85, y2=1.0), confidence=0.9, track_id=t,
                      foot=Point(x=0.5, y=0.98)) for t in track_ids]
    return Detections(camera_id="cam-s", store_id="s", frame_seq=seq,
                      capture_time=to_timestamp(T0 + dt.timedelta(seconds=seconds)), persons=persons)


def run_shoppers(stage, portrait, n_tracks: int) -> list[Detections]:
    """Each shopper is seen in 3 frames (2 s apart); then an empty frame well after the window."""
    out, seq = [], 0
    for track_id in range(1, n_tracks + 1):
        batch = []
        for i in range(3):
            seq += 1
            batch.append((portrait, frame(seq, 10 * track_id + 2 * i, [track_id])))
        stage.process(batch)
        out.extend(det for _, det in batch)
    last = frame(seq + 1, 200, [])
    stage.process([(portrait, last)])
    return out + [last]


@pytest.mark.parametrize("n_tracks", [4, 5])
def test_k_anonymous_aggregate_on_the_wire(models, portrait, n_tracks, caplog):
    from services.detect.attributes.stage import AttributeStage

    caplog.set_level(logging.DEBUG, logger="services")
    caplog.set_level(logging.DEBUG, logger="storesight")
    stage = AttributeStage(config(), models=models)
    messages = run_shoppers(stage, portrait, n_tracks)
    groups = [g for det in messages for g in det.attributes]
    if n_tracks == 4:
        assert groups == []
    else:
        assert len(groups) == 1
        group = groups[0]
        assert group.zone_id == "endcap-1" and group.distinct_tracks == 5
        assert dict(group.age_bands) == {"60+": 5}
        assert dict(group.expressions) == {"neutral": 5}
        assert sum(group.genders.values()) == 5  # the gender model calls her male: see the model tests
        assert group.window_start.ToDatetime(dt.UTC) == T0
        assert group.window_end.ToDatetime(dt.UTC) == T0 + dt.timedelta(seconds=60)
        assert messages[-1].attributes  # attached to the frame whose capture time closed the window
    assert check_aggregates(messages, k=5) == []
    assert_no_leaks({
        "detections": [det.SerializeToString() for det in messages],
        "logs": caplog.text,
        "metrics": generate_latest(),
    })


def test_disabled_camera_loads_no_model_and_adds_nothing(portrait):
    from services.detect.attributes.stage import AttributeStage

    stage = AttributeStage(config(enabled=False))
    assert not stage.enabled and stage._models is None
    det = frame(1, 1, [1])
    stage.process([(portrait, det)])
    assert not det.attributes
