"""Scores of per-frame detection results against per-frame ground-truth counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from services.detect.pipeline import FrameResult


@dataclass(frozen=True)
class CountScore:
    frames: int  # scored frames (present in both results and truth)
    exact: float  # fraction with exactly the true count
    mae: float  # mean absolute count error
    bias: float  # mean signed error (negative = undercount)
    distinct_tracks: int  # confirmed track ids seen for at least min_track_s


def score(results: Iterable[FrameResult], truth: dict[int, int], min_track_s: float = 1.0) -> CountScore:
    errors = []
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    for result in results:
        for track_id in result.persons.tracker_id.tolist():
            if track_id:
                first.setdefault(track_id, result.t)
                last[track_id] = result.t
        if result.frame in truth:
            errors.append(len(result.persons) - truth[result.frame])
    tracks = sum(1 for tid in first if last[tid] - first[tid] >= min_track_s)
    if not errors:
        return CountScore(0, 0.0, 0.0, 0.0, tracks)
    return CountScore(len(errors), sum(e == 0 for e in errors) / len(errors),
                      sum(abs(e) for e in errors) / len(errors), sum(errors) / len(errors), tracks)


def tracks_per_visit(results: Iterable[FrameResult], visits: list[tuple[int, int]],
                     min_frames: int = 3) -> list[Counter]:
    """For each (first, last) frame range, how often each track id appears inside it."""
    counters = [Counter() for _ in visits]
    for result in results:
        for i, (first, last) in enumerate(visits):
            if first <= result.frame <= last:
                counters[i].update(track_id for track_id in result.persons.tracker_id.tolist() if track_id)
    return [Counter({k: v for k, v in c.items() if v >= min_frames}) for c in counters]
