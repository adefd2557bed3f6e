"""Camera homographies (fit, validation in config) and merging one person seen by two cameras."""

from __future__ import annotations

import numpy as np
import pytest

from services.aggregate.floor_merge import merge_people
from storesight.config import ConfigError, parse_config
from storesight.floorplane import fit_homography, project

# A made-up camera: image (normalised) -> floor metres through a known perspective matrix.
TRUE_H = np.array([[6.0, 1.5, 1.0], [0.2, 9.0, 2.0], [0.05, 0.6, 1.0]])
IMAGE = [(0.1, 0.2), (0.9, 0.15), (0.85, 0.95), (0.15, 0.9), (0.5, 0.5), (0.3, 0.7)]


def floor_of(points):
    return project(TRUE_H, points).tolist()


def test_fit_recovers_the_homography_from_four_and_from_more_pairs():
    for n in (4, 6):
        h = fit_homography(IMAGE[:n], floor_of(IMAGE[:n]))
        probe = [(0.42, 0.33), (0.77, 0.81)]
        assert np.allclose(project(h, probe), floor_of(probe), atol=1e-6)


@pytest.mark.parametrize(("image", "floor", "reason"), [
    (IMAGE[:3], floor_of(IMAGE[:3]), "at least 4"),
    (IMAGE[:4], floor_of(IMAGE[:3]), "same number"),
    ([(0.1, 0.1), (0.5, 0.5), (0.9, 0.9), (0.3, 0.3)], [(0, 0), (1, 0), (1, 1), (0, 1)], "image points"),
    (IMAGE[:4], [(0, 0), (1, 1), (2, 2), (3, 3)], "floor points"),
])
def test_pairs_that_give_no_homography_are_refused(image, floor, reason):
    with pytest.raises(ValueError, match=reason):
        fit_homography(image, floor)


def test_a_mismarked_pair_is_caught_by_the_reprojection_check():
    floor = floor_of(IMAGE)
    floor[4] = (floor[4][0] + 1.5, floor[4][1])  # one point marked 1.5 m off
    with pytest.raises(ValueError, match="disagree"):
        fit_homography(IMAGE, floor)


def _config(floor: dict) -> dict:
    return {"region": "r", "stores": [{"id": "s", "timezone": "UTC", "cameras": [
        {"id": "c1", "source": "x.mp4", "floor": floor}]}]}


def test_config_validates_the_calibration_with_its_path():
    good = {"image": [list(p) for p in IMAGE[:4]], "floor": floor_of(IMAGE[:4])}
    assert parse_config(_config(good)).stores[0].cameras[0].floor is not None
    with pytest.raises(ConfigError, match=r"stores\[0\]\.cameras\[0\]\.floor: needs at least 4 point pairs"):
        parse_config(_config({"image": good["image"][:3], "floor": good["floor"][:3]}))


def test_one_person_in_the_overlap_of_two_cameras_counts_once():
    people = merge_people([("left", 4, 3.00, 2.00), ("right", 9, 3.20, 2.10)], 0.5)
    assert len(people) == 1 and sorted(people[0]) == [("left", 4), ("right", 9)]


def test_two_people_close_together_on_one_camera_stay_two():
    people = merge_people([("left", 1, 3.0, 2.0), ("left", 2, 3.1, 2.0), ("right", 7, 3.05, 2.0)], 0.5)
    assert sorted(len(p) for p in people) == [1, 2]
    # The right camera's point joins the nearer of the two (both 0.05 m: either, but only one).
    assert sum(("right", 7) in p for p in people) == 1


def test_closest_pairs_are_joined_first():
    # a1 is 0.4 from b1 and 0.1 from b2; a2 is 0.1 from b1: joining in input order would pair a1-b1.
    points = [("a", 1, 0.0, 0.0), ("b", 1, 0.4, 0.0), ("b", 2, -0.1, 0.0), ("a", 2, 0.5, 0.0)]
    people = {frozenset(p) for p in map(tuple, merge_people(points, 0.5))}
    assert people == {frozenset({("a", 1), ("b", 2)}), frozenset({("a", 2), ("b", 1)})}


def test_three_cameras_on_one_spot_are_one_person_and_far_points_are_not_merged():
    points = [("a", 1, 5.0, 5.0), ("b", 1, 5.2, 5.1), ("c", 1, 5.1, 4.9), ("c", 2, 9.0, 9.0)]
    assert sorted(len(p) for p in merge_people(points, 0.5)) == [1, 3]
    assert merge_people([], 0.5) == []
