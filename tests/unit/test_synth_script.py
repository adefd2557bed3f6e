"""The synthetic clip's ground truth equals what its script implies (pure logic, no video)."""

from __future__ import annotations

import pytest

from storesight.config import parse_config
from tools.synth import scene
from tools.synth.script import SCENARIOS, count_incidents, line_crossing, point_in_polygon, simulate

ASPECTS = [0.33, 0.42, 0.39, 0.36]


@pytest.fixture(scope="module")
def queue_truth():
    return simulate(SCENARIOS["queue"], seed=0, sprite_aspects=ASPECTS)


@pytest.fixture(scope="module")
def demo_truth():
    return simulate(SCENARIOS["demo"], seed=0, sprite_aspects=ASPECTS)


def _states(truth) -> dict[int, list[tuple[int, str]]]:
    states: dict[int, list[tuple[int, str]]] = {}
    for frame in truth.frames:
        for person in frame.people:
            states.setdefault(person.id, []).append((frame.frame, person.state))
    return states


def _first_frame_in(states, person_id, state) -> int:
    return next(i for i, s in states[person_id] if s == state)


def test_same_seed_same_truth_other_seed_differs():
    a = simulate(SCENARIOS["queue"], seed=3, sprite_aspects=ASPECTS).frame_records()
    b = simulate(SCENARIOS["queue"], seed=3, sprite_aspects=ASPECTS).frame_records()
    c = simulate(SCENARIOS["queue"], seed=4, sprite_aspects=ASPECTS).frame_records()
    assert a == b
    assert a != c


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_everyone_enters_once_and_leaves_once(name):
    truth = simulate(SCENARIOS[name], seed=1, sprite_aspects=ASPECTS)
    assert truth.entries == truth.exits == SCENARIOS[name].people
    for person in truth.people:
        mine = [(c.line, c.direction) for c in truth.crossings if c.id == person.id]
        expected_exit = ("exit", "out") if person.buys else ("entrance", "out")
        assert mine == [("entrance", "in"), expected_exit]
    assert 60 <= len(truth.frames) / truth.fps <= 95  # a 60-90 s clip (plus lead-in and tail)


def test_queue_grows_past_threshold_then_drains_to_one_incident(queue_truth):
    lengths = queue_truth.queue_lengths()
    rule = SCENARIOS["queue"].rule
    assert max(lengths) > rule.threshold
    assert lengths[0] == lengths[-1] == 0
    assert queue_truth.expected_incidents() == 1


def test_served_one_by_one_first_in_first_out(queue_truth):
    assert max(f.zones["till"] for f in queue_truth.frames) == 1
    buyers = [p for p in queue_truth.people if p.buys]
    by_entry = sorted(buyers, key=lambda p: p.queue_enter_frame)
    by_exit = sorted(buyers, key=lambda p: p.queue_exit_frame)
    assert [p.id for p in by_entry] == [p.id for p in by_exit]


def test_next_in_line_leaves_the_queue_as_soon_as_the_till_frees(queue_truth):
    """A waiting person's wait ends within the short walk past the zone edge after the till frees."""
    states = _states(queue_truth)
    buyers = sorted((p for p in queue_truth.people if p.buys), key=lambda p: p.queue_exit_frame)
    walk_frames = (scene.QUEUE_ZONE[1][0] - scene.QUEUE_HEAD_X) / 0.15 * queue_truth.fps + 2  # + state lag
    checked = 0
    for previous, person in zip(buyers, buyers[1:], strict=False):
        till_free = _first_frame_in(states, previous.id, "leaving_right")
        was_waiting = any(i == till_free - 1 and s == "queueing" for i, s in states[person.id])
        if was_waiting:
            assert 0 < person.queue_exit_frame - till_free <= walk_frames
            checked += 1
    assert checked >= 4  # the rush keeps the queue busy


def test_queue_length_and_waits_agree(queue_truth):
    """Sum over frames of the queue length = sum of everyone's time in the queue (Little's law)."""
    waits = queue_truth.queue_waits()
    assert sum(queue_truth.queue_lengths()) / queue_truth.fps == pytest.approx(sum(waits.values()))
    for person in queue_truth.people:
        if person.buys:
            assert person.queue_frames == person.queue_exit_frame - person.queue_enter_frame  # one stay
    assert max(waits.values()) > 20  # the last of the rush waits long


def test_states_sit_in_their_zones_and_are_never_hidden(demo_truth):
    zone_of = {"queueing": scene.QUEUE_ZONE, "paying": scene.TILL_ZONE, "browsing": scene.AISLE_ZONE}
    occluded = []
    for frame in demo_truth.frames:
        for person in frame.people:
            settled = person.state != "queueing" or abs(person.foot[1] - scene.QUEUE_Y) < 0.01
            if person.state in zone_of and settled:
                assert point_in_polygon(*person.foot, zone_of[person.state])
                if person.state != "browsing":
                    assert person.occluded == 0.0
            x1, y1, x2, y2 = person.box
            assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1
            assert person.foot == pytest.approx(((x1 + x2) / 2, y2))
            occluded.append(person.occluded)
    assert sum(o > 0.3 for o in occluded) / len(occluded) < 0.05  # the tolerance truth.json states


def test_store_config_matches_and_validates():
    rule = SCENARIOS["queue"].rule
    config = parse_config(scene.store_config("clip.mp4", 10.0, rule))
    store = config.stores[0]
    assert store.zone("queue").serves == "till"
    assert store.rules[0].threshold == rule.threshold and store.rules[0].zone == "queue"
    assert {ln.id for ln in store.cameras[0].lines} == {"entrance", "exit"}


def test_count_incidents_has_hysteresis_and_duration():
    rule = scene.QueueRule(threshold=5, clear_threshold=3, for_s=1.0)
    fps = 10.0
    assert count_incidents([6] * 9, fps, rule) == 0          # 0.8 s above: not long enough
    assert count_incidents([6] * 11, fps, rule) == 1
    assert count_incidents([6] * 11 + [4] * 5 + [6] * 11, fps, rule) == 1  # never cleared (4 > 3)
    assert count_incidents([6] * 11 + [3] + [6] * 11, fps, rule) == 2


def test_line_crossing_direction():
    line = ((0.5, 0.0), (0.5, 1.0), (0.9, 0.5))
    assert line_crossing((0.4, 0.5), (0.6, 0.5), line) == "in"
    assert line_crossing((0.6, 0.5), (0.4, 0.5), line) == "out"
    assert line_crossing((0.1, 0.5), (0.4, 0.5), line) is None
    short = ((0.5, 0.0), (0.5, 0.4), (0.9, 0.2))
    assert line_crossing((0.4, 0.5), (0.6, 0.5), short) is None  # passes below the segment


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("seed", range(6))
def test_invariants_hold_for_any_seed(name, seed):
    truth = simulate(SCENARIOS[name], seed=seed, sprite_aspects=ASPECTS)
    assert truth.entries == truth.exits == SCENARIOS[name].people
    assert max(f.zones["till"] for f in truth.frames) <= 1
    assert max(truth.queue_lengths()) <= scene.QUEUE_SLOTS
    buyers = [p for p in truth.people if p.buys]
    assert all(p.queue_enter_frame is not None for p in buyers)
    assert sorted(buyers, key=lambda p: p.queue_enter_frame) == sorted(buyers, key=lambda p: p.queue_exit_frame)
    assert sum(truth.queue_lengths()) == sum(p.queue_frames for p in truth.people)
    assert all(p.queue_enter_frame is None for p in truth.people if not p.buys)
