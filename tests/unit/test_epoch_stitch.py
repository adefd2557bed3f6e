"""A detect restart seen by the aggregator (services/aggregate/epochs.py): a new tracker epoch numbers
the people still in view anew and replays frames already aggregated. Visits must not split, swap,
or outlive a person who left during the outage; replayed frames must not count twice.
"""

from __future__ import annotations

from services.aggregate.aggregator import Aggregator
from services.aggregate.convert import track_key
from services.aggregate.records import FrameRecord, WindowStats
from services.aggregate.visits import Visit
from storesight.config import parse_config

FPS = 5


def config(**aggregate):
    return parse_config({"region": "r", "pipeline": {"aggregate": {"window_s": 10, **aggregate}},
                         "stores": [{"id": "s", "timezone": "UTC", "cameras": [{
                             "id": "cam", "source": "x.mp4", "zones": [
                                 {"id": "left", "kind": "aisle", "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]},
                                 {"id": "right", "kind": "aisle", "polygon": [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]},
                             ]}]}]})


def make(**aggregate) -> tuple[Aggregator, list[Visit]]:
    visits: list[Visit] = []
    return Aggregator(config(**aggregate), on_visit=visits.append), visits


def frames(epoch: str, start: float, end: float, persons) -> list[FrameRecord]:
    """Frames at FPS in [start, end); persons: (detector track id, x, y) or a function of t giving
    them. Track ids are keyed by the epoch as ``convert.frame_from_proto`` does."""
    out = []
    for i in range(round(start * FPS), round(end * FPS)):
        t = i / FPS
        rows = persons(t) if callable(persons) else persons
        out.append(FrameRecord.of("cam", t, [(track_key(epoch, n), x, y) for n, x, y in rows], epoch=epoch))
    return out


def zone_visits(visits: list[Visit], zone: str) -> list[tuple[float, float]]:
    return sorted((v.start_s, v.end_s) for v in visits if v.zone_id == zone)


def closed_stats(closed: list) -> list[WindowStats]:
    return [w for w in closed if isinstance(w, WindowStats)]


def test_a_person_continuing_across_a_restart_is_one_visit():
    aggregator, visits = make()
    aggregator.process(frames("a", 0, 4, [(1, 0.2, 0.5)]))
    # Restart: the new process calls the same person 1 of epoch "b" (another key), 0.2 s later.
    aggregator.process(frames("b", 4.2, 8, [(1, 0.21, 0.5)]))
    closed = closed_stats(aggregator.flush())
    assert zone_visits(visits, "left") == [(0.0, 7.8)]
    assert zone_visits(visits, "camera:cam") == [(0.0, 7.8)]
    assert sum(w.unique_tracks for w in closed if w.zone_id == "camera:cam") == 1
    assert sum(w.entries for w in closed if w.zone_id == "left") == 1
    epochs = aggregator.state.cameras["cam"].epochs
    assert (epochs.switches, epochs.continued, epochs.replayed) == (1, 1, 0)
    assert aggregator.epoch_totals() == {"s": [0, 1]}


def test_two_people_continuing_stay_two_visits_not_swapped():
    aggregator, visits = make()
    # Person A walks right to left inside `right` ... person B stands in `left`.
    aggregator.process(frames("a", 0, 4, lambda t: [(1, 0.2, 0.5), (2, 0.9 - 0.02 * t, 0.5)]))
    # The new tracker numbers them the other way round (A is 1, B is 2) and lists them reversed.
    aggregator.process(frames("b", 4.2, 8, lambda t: [(1, 0.9 - 0.02 * t, 0.5), (2, 0.2, 0.5)]))
    aggregator.flush()
    assert zone_visits(visits, "left") == [(0.0, 7.8)]
    assert zone_visits(visits, "right") == [(0.0, 7.8)]
    view = [v for v in visits if v.zone_id == "camera:cam"]
    assert len(view) == 2 and {v.track_id for v in view} == {v.track_id for v in visits if v.zone_id == "left"} | {
        v.track_id for v in visits if v.zone_id == "right"}
    left_track = next(v.track_id for v in visits if v.zone_id == "left")
    right_track = next(v.track_id for v in visits if v.zone_id == "right")
    assert left_track != right_track


def test_a_person_who_left_during_the_outage_ends_and_a_newcomer_is_new():
    aggregator, visits = make()
    aggregator.process(frames("a", 0, 4, [(1, 0.2, 0.5)]))
    # After the restart only a different person, far away, is in view.
    aggregator.process(frames("b", 4.2, 8, [(1, 0.8, 0.5)]))
    closed = closed_stats(aggregator.flush())
    assert zone_visits(visits, "left") == [(0.0, 3.8)]
    assert zone_visits(visits, "right") == [(4.2, 7.8)]
    assert sum(w.unique_tracks for w in closed if w.zone_id == "camera:cam") == 2
    assert aggregator.state.cameras["cam"].epochs.continued == 0


def test_replayed_frames_are_skipped_and_counted():
    aggregator, visits = make()
    aggregator.process(frames("a", 0, 4, [(1, 0.2, 0.5)]))
    records = aggregator.state.records
    # The restarted detect republishes 2.6 .. 3.8 s (not committed before the kill), then goes on.
    replay = frames("b", 2.6, 4, [(1, 0.2, 0.5), (2, 0.8, 0.5)])  # a person only the replay "sees"
    aggregator.process(replay)
    assert aggregator.state.records == records  # nothing of the replay was aggregated
    aggregator.process(frames("b", 4.0, 8, [(1, 0.2, 0.5)]))
    closed = closed_stats(aggregator.flush())
    assert aggregator.state.cameras["cam"].epochs.replayed == len(replay) == 7
    assert zone_visits(visits, "left") == [(0.0, 7.8)]
    assert zone_visits(visits, "right") == []
    occupancy = [w for w in closed if w.zone_id == "left" and w.window_start == 0]
    assert occupancy[0].occupancy_max == 1  # no frame counted twice
    assert aggregator.epoch_totals() == {"s": [7, 1]}


def test_within_an_epoch_nothing_is_stitched():
    aggregator, visits = make()
    # Same epoch: track 1 ends (unseen > track_gone_s), track 2 starts where it was: two people.
    aggregator.process(frames("a", 0, 4, [(1, 0.2, 0.5)]))
    aggregator.process(frames("a", 6.6, 10, [(2, 0.2, 0.5)]))
    aggregator.flush()
    assert zone_visits(visits, "left") == [(0.0, 3.8), (6.6, 9.8)]
    assert aggregator.state.cameras["cam"].epochs.switches == 0


def test_an_old_track_is_only_continued_within_track_gone():
    aggregator, visits = make()
    aggregator.process(frames("a", 0, 4, [(1, 0.2, 0.5)]))
    # Restart that took longer than track_gone_s (2 s) of capture time: the old visit has ended.
    aggregator.process(frames("b", 6.2, 8, [(1, 0.2, 0.5)]))
    aggregator.flush()
    assert zone_visits(visits, "left") == [(0.0, 3.8), (6.2, 7.8)]


def test_a_checkpoint_keeps_the_stitch():
    from services.aggregate import checkpoint

    aggregator, visits = make()
    aggregator.process(frames("a", 0, 4, [(1, 0.2, 0.5)]))
    aggregator.process(frames("b", 4.2, 5, [(1, 0.21, 0.5)]))
    saved = checkpoint.decode(checkpoint.encode(aggregator.state, {}, {}, 1))
    restored = Aggregator(config(), state=saved.state, on_visit=visits.append)
    restored.process(frames("b", 5, 8, [(1, 0.21, 0.5)]))
    restored.flush()
    assert zone_visits(visits, "left") == [(0.0, 7.8)]
