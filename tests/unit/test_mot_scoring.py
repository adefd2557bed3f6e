"""The tracking bench's MOT scoring on hand-made cases whose IDF1, MOTA and switches are known."""

import numpy as np

from bench.accuracy.groundtruth import TruthFrame
from bench.tracking.mot import score_mot

A = [0.0, 0.0, 10.0, 20.0]
B = [100.0, 0.0, 110.0, 20.0]
NONE = np.zeros((0, 4))


def frame(*boxes, ignored=NONE) -> TruthFrame:
    return TruthFrame(np.arange(1, len(boxes) + 1), np.array(boxes).reshape(-1, 4), np.asarray(ignored))


def test_perfect_tracking_scores_one():
    truth = [frame(A, B)] * 3
    tracked = [(np.array([5, 6]), np.array([A, B]))] * 3
    s = score_mot(truth, tracked, 0.5)
    assert (s.idf1, s.mota, s.id_switches, s.misses, s.false_positives) == (1.0, 1.0, 0, 0, 0)


def test_swapped_ids_halfway_are_two_switches_and_half_the_idf1():
    truth = [frame(A, B)] * 4
    tracked = [(np.array([1, 2]), np.array([A, B]))] * 2 + [(np.array([2, 1]), np.array([A, B]))] * 2
    s = score_mot(truth, tracked, 0.5)
    assert s.id_switches == 2
    assert s.mota == (8 - 2) / 8
    assert s.idf1 == 0.5  # the best one-to-one id assignment is right in 4 of 8 boxes


def test_iou_threshold_decides_between_hit_and_miss_plus_false_positive():
    loose = [0.0, 0.0, 10.0, 50.0]  # A is 200 px^2, loose 500: IoU 0.4
    truth = [frame(A)]
    tracked = [(np.array([1]), np.array([loose]))]
    assert score_mot(truth, tracked, 0.3).mota == 1.0
    strict = score_mot(truth, tracked, 0.5)
    assert (strict.misses, strict.false_positives, strict.mota) == (1, 1, -1.0)


def test_a_box_on_a_do_not_consider_region_is_neither_hit_nor_false_positive():
    truth = [frame(A, ignored=[B])]
    tracked = [(np.array([1, 2]), np.array([A, B]))]
    s = score_mot(truth, tracked, 0.5)
    assert (s.false_positives, s.mota) == (0, 1.0)
