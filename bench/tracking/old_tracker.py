"""The detect service's tracker before it moved to OC-SORT (kept only as the tracking bench's baseline row).

Why it matters: downstream counts distinct visitors by track id, so an id switch is a
double count. The tracker therefore
- predicts every track forward with a damped constant velocity before matching,
- matches confident detections first, then uses low-confidence ones (a half-occluded person
  scores low) to keep existing tracks alive, as ByteTrack does,
- keeps a lost track for ``max_lost_s`` so a person hidden for a moment gets the same id back,
  matching it by overlap or, when the prediction drifted, by centre distance,
- confirms a new track only after ``min_hits`` detections, so one-frame false positives never
  get an id.
Boxes are xyxy in any consistent unit (the service uses normalised 0..1 coordinates).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from services.detect.postprocess import iou_matrix


@dataclass(frozen=True)
class TrackerSettings:
    high_confidence: float = 0.5
    low_confidence: float = 0.15
    match_iou: float = 0.2
    # A lost track may also match a detection whose centre is this many box sizes away.
    lost_match_distance: float = 0.6
    max_lost_s: float = 2.0
    min_hits: int = 2
    # Velocity smoothing (0..1, weight of the newest measurement) and how long to extrapolate.
    velocity_weight: float = 0.5
    max_predict_s: float = 0.5
    # Keep reporting a hidden person (at the predicted box, flagged) for this long, while the
    # prediction stays inside the image: people behind others are still there.
    report_hidden_s: float = 0.5
    view: tuple[float, float] = (1.0, 1.0)  # width, height of the image in box units


@dataclass
class Track:
    track_id: int
    box: np.ndarray  # xyxy at last_seen
    score: float
    last_seen: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4, dtype=np.float32))
    hits: int = 1
    missed: int = 0  # updates in a row without a detection
    confirmed: bool = False

    def predict(self, now: float, horizon_s: float) -> np.ndarray:
        dt = min(max(now - self.last_seen, 0.0), horizon_s)
        return self.box + self.velocity * dt

    def update(self, box: np.ndarray, score: float, now: float, weight: float) -> None:
        dt = now - self.last_seen
        if dt > 0:
            measured = (box - self.box) / dt
            self.velocity = (1 - weight) * self.velocity + weight * measured
        self.box, self.score, self.last_seen = box, score, now
        self.hits += 1
        self.missed = 0


@dataclass(frozen=True)
class TrackedPerson:
    """One detection of this frame with its track id (0 while the track is not yet confirmed)."""

    box: tuple[float, float, float, float]
    confidence: float
    track_id: int
    predicted: bool = False  # not detected in this frame: a briefly hidden, tracked person


def _greedy_match(similarity: np.ndarray, valid: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (row, col) among ``valid`` cells, best similarity first, each row and column used once."""
    pairs: list[tuple[int, int]] = []
    rows, cols = np.nonzero(valid)
    order = np.argsort(-similarity[rows, cols], kind="stable")
    used_r, used_c = set(), set()
    for k in order:
        r, c = int(rows[k]), int(cols[k])
        if r not in used_r and c not in used_c:
            pairs.append((r, c))
            used_r.add(r)
            used_c.add(c)
    return pairs


def _centre_closeness(tracks: np.ndarray, dets: np.ndarray, reach: float) -> np.ndarray:
    """1 for identical centres, falling to 0 at ``reach`` times the track's box size."""
    tc = (tracks[:, :2] + tracks[:, 2:4]) / 2
    dc = (dets[:, :2] + dets[:, 2:4]) / 2
    size = np.sqrt(np.clip((tracks[:, 2] - tracks[:, 0]) * (tracks[:, 3] - tracks[:, 1]), 1e-12, None))
    dist = np.linalg.norm(tc[:, None] - dc[None], axis=2) / (reach * size[:, None])
    return np.clip(1 - dist, 0, None).astype(np.float32)


class Tracker:
    """Tracks of one camera. ``update`` takes one frame's detections (N, 5: xyxy + score)."""

    def __init__(self, settings: TrackerSettings | None = None, first_id: int = 1):
        self.settings = settings or TrackerSettings()
        self.tracks: list[Track] = []
        self.next_id = first_id
        self._tentative_id = -1

    def update(self, detections: np.ndarray, now: float) -> list[TrackedPerson]:
        s = self.settings
        self.tracks = [t for t in self.tracks if now - t.last_seen <= s.max_lost_s]
        dets = np.asarray(detections, dtype=np.float32).reshape(-1, 5)
        assigned: dict[int, Track] = {}

        high = np.nonzero(dets[:, 4] >= s.high_confidence)[0]
        low = np.nonzero((dets[:, 4] >= s.low_confidence) & (dets[:, 4] < s.high_confidence))[0]
        # Confirmed tracks first so an established person wins a detection over a newcomer.
        pool = sorted(self.tracks, key=lambda t: (not t.confirmed, -t.hits))

        # 1) confident detections against every track (recently seen or lost).
        free_tracks = self._match(pool, dets, high, now, assigned, allow_distance=True)
        # 2) low-confidence detections only extend tracks seen in the previous frames.
        recent = [t for t in free_tracks if t.confirmed]
        self._match(recent, dets, low, now, assigned, allow_distance=False)

        # 3) unmatched confident detections start tentative tracks.
        for d in high:
            if int(d) not in assigned:
                track = Track(self._tentative_id, dets[d, :4].copy(), float(dets[d, 4]), now)
                self._tentative_id -= 1
                self.tracks.append(track)
                assigned[int(d)] = track

        persons = []
        for d in sorted(assigned):
            track = assigned[d]
            if not track.confirmed and track.hits >= s.min_hits:
                track.confirmed = True
                track.track_id = self.next_id
                self.next_id += 1
            box = tuple(float(v) for v in dets[d, :4])
            persons.append(TrackedPerson(box, float(dets[d, 4]), track.track_id if track.confirmed else 0))
        matched_now = {id(t) for t in assigned.values()}
        for track in self.tracks:
            if id(track) not in matched_now:
                track.missed += 1
        # Unconfirmed tracks that missed a frame were noise: forget them.
        self.tracks = [t for t in self.tracks if t.confirmed or t.missed == 0]
        return persons + self._hidden(now)

    def _hidden(self, now: float) -> list[TrackedPerson]:
        """Confirmed tracks missed for at most ``report_hidden_s`` whose predicted centre is in view."""
        s = self.settings
        hidden = []
        for track in self.tracks:
            if track.missed == 0 or now - track.last_seen > s.report_hidden_s:
                continue
            box = track.predict(now, s.max_predict_s)
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            if 0 <= cx <= s.view[0] and 0 <= cy <= s.view[1]:
                hidden.append(TrackedPerson(tuple(float(v) for v in box), track.score, track.track_id, True))
        return hidden

    def _match(self, tracks: list[Track], dets: np.ndarray, candidates: np.ndarray, now: float,
               assigned: dict[int, Track], allow_distance: bool) -> list[Track]:
        """Match ``candidates`` (detection indices) to ``tracks``; return the tracks left unmatched."""
        if not tracks or len(candidates) == 0:
            return tracks
        s = self.settings
        predicted = np.stack([t.predict(now, s.max_predict_s) for t in tracks])
        boxes = dets[candidates, :4]
        iou = iou_matrix(predicted, boxes)
        valid = iou >= s.match_iou
        similarity = iou
        if allow_distance:
            # A lost track (its person briefly hidden) may also match by centre distance,
            # ranked below every overlap match.
            lost = np.array([t.missed > 0 for t in tracks])[:, None]
            closeness = _centre_closeness(predicted, boxes, s.lost_match_distance)
            by_distance = lost & ~valid & (closeness > 0)
            similarity = np.where(by_distance, closeness * s.match_iou * 0.99, iou)
            valid = valid | by_distance
        matched = set()
        for r, c in _greedy_match(similarity, valid):
            track, d = tracks[r], int(candidates[c])
            track.update(dets[d, :4].copy(), float(dets[d, 4]), now, s.velocity_weight)
            assigned[d] = track
            matched.add(r)
        return [t for i, t in enumerate(tracks) if i not in matched]


class CameraTrackers:
    """One Tracker per camera, reset when a camera's stream has a gap (or goes back in time).

    After a gap the old tracks say nothing about who is there now, so matching against them
    would only create false continuity. Ids keep increasing across resets so a new person
    never reuses an id the aggregator has already seen for that camera.
    """

    def __init__(self, gap_s: float, settings: TrackerSettings | None = None):
        self.gap_s = gap_s
        self.settings = settings or TrackerSettings()
        self._trackers: dict[str, Tracker] = {}
        self._last: dict[str, float] = {}
        self.resets = 0

    def update(self, camera_id: str, detections: np.ndarray, now: float) -> list[TrackedPerson]:
        tracker = self._trackers.get(camera_id)
        last = self._last.get(camera_id)
        if tracker is not None and last is not None and not 0 <= now - last <= self.gap_s:
            tracker = Tracker(self.settings, first_id=tracker.next_id)
            self.resets += 1
        if tracker is None:
            tracker = Tracker(self.settings)
        self._trackers[camera_id] = tracker
        self._last[camera_id] = now
        return tracker.update(detections, now)
