"""The reusable privacy scanner finds pixels and per-person attributes, and lets aggregates through."""

import base64
import json

import cv2
import numpy as np

from storesight.v1.detections_pb2 import AttributeAggregate, Detections, Person
from tests.support.privacy import check_aggregates, find_leaks


def real_image() -> np.ndarray:
    image = np.zeros((48, 64, 3), dtype=np.uint8)
    cv2.circle(image, (32, 24), 12, (200, 180, 160), -1)
    return image


def test_finds_raw_and_base64_images():
    jpeg = cv2.imencode(".jpg", real_image())[1].tobytes()
    png = cv2.imencode(".png", real_image())[1].tobytes()
    assert any("JPEG" in f for f in find_leaks(b"header" + jpeg))
    assert any("PNG" in f for f in find_leaks(png))
    as_json = json.dumps({"zone": "a", "thumb": base64.b64encode(png).decode()})
    assert any("base64 PNG" in f for f in find_leaks(as_json))
    assert any("JPEG" in f for f in find_leaks("x=" + base64.b64encode(jpeg).decode()))


def test_finds_per_person_attributes_and_face_geometry():
    assert find_leaks(json.dumps({"track_id": 7, "expression": "happy"}))
    assert find_leaks('{"event": "face", "person": 12, "gender": "female", "age": 34}')
    assert find_leaks("classified track 41 as male 30-44")
    assert find_leaks(json.dumps({"face_box": [0.1, 0.2, 0.3, 0.4]}))
    assert find_leaks(json.dumps({"landmarks": [[1, 2], [3, 4]]}))
    assert find_leaks('storesight_zone_expression_tracks{track_id="7",expression="happy",zone="a"} 1.0')
    assert find_leaks('storesight_detect_faces{expression="happy"} 1.0')  # only the agreed gauges pass


def test_sentiment_gauges_pass():
    metrics = ('# HELP storesight_zone_gender_tracks Tracks per gender label in the last closed window\n'
               'storesight_zone_expression_tracks{expression="happy",store="s",zone="endcap"} 7.0\n'
               'storesight_zone_age_band_tracks{band="60+",store="s",zone="camera:cam-1"} 5.0\n'
               'storesight_zone_gender_tracks{gender="female",store="s",zone="endcap"} 3.0\n')
    assert find_leaks(metrics) == []


def test_aggregates_and_ordinary_records_pass():
    aggregate = AttributeAggregate(zone_id="aisle-1", distinct_tracks=5)
    aggregate.expressions.update({"happy": 3, "neutral": 2})
    aggregate.age_bands.update({"18-29": 4, "60+": 1})
    aggregate.genders.update({"female": 2, "male": 3})
    det = Detections(camera_id="cam-1", store_id="s", frame_seq=9,
                     persons=[Person(track_id=7, confidence=0.8)], attributes=[aggregate])
    assert find_leaks(det.SerializeToString()) == []
    live = {"zone_id": "aisle-1", "occupancy": 4, "expressions": {"happy": 3, "neutral": 2},
            "age_bands": {"18-29": 4}, "genders": {"female": 2, "male": 3}, "distinct_tracks": 5,
            "last_frame_age_seconds": 1.5}
    assert find_leaks(json.dumps(live)) == []
    assert find_leaks('{"level": "INFO", "msg": "batch done", "frames": 8, "track_count": 3}') == []
    assert check_aggregates([det], k=5) == []


def test_check_aggregates_flags_small_or_inconsistent_groups():
    small = AttributeAggregate(zone_id="a", distinct_tracks=4)
    small.expressions["happy"] = 4
    inflated = AttributeAggregate(zone_id="b", distinct_tracks=5)
    inflated.genders.update({"female": 4, "male": 3})
    problems = check_aggregates([Detections(attributes=[small, inflated])], k=5)
    assert len(problems) == 2 and "4 tracks < k=5" in problems[0] and "genders counts 7" in problems[1]
