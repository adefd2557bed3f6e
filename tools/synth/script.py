"""Who is where in every frame of a synthetic clip, and the exact ground truth that follows.

Pure Python over plain data (no OpenCV): a frame-stepped simulation of people who enter,
browse, queue first-in-first-out, are served one at a time at the till and leave. Every
person's box is computed here in whole pixels, and the renderer pastes the person's image
into exactly that rectangle, so the boxes below are the truth, not an estimate.

Ground truth is measured the way an ideal pipeline would: a person's foot point is the
bottom centre of the visible part of the box; zone counts are foot points inside a zone's
polygon; queue length is the count in the queue zone; a person's queue wait is the time their
foot point spends in the queue zone; entries/exits are foot-point crossings of the lines.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from tools.synth import scene

SPEED = 0.15  # normalised units per second (~115 px/s across a 768 px frame)
LEAD_IN_S = 1.0
TAIL_S = 2.0


@dataclass(frozen=True)
class Scenario:
    name: str
    people: int
    arrival_gap_s: tuple[float, float]
    browse_s: tuple[float, float]
    service_s: tuple[float, float]
    # Every n-th person (1-based) browses and leaves through the entrance without queueing; 0 = none.
    browse_only_every: int = 0
    rule: scene.QueueRule = scene.QueueRule()


SCENARIOS: dict[str, Scenario] = {
    # A rush: the queue grows past the rule's threshold, then drains one by one.
    "queue": Scenario("queue", people=9, arrival_gap_s=(1.6, 2.4), browse_s=(3.0, 5.0), service_s=(5.5, 6.5)),
    # Mixed traffic for the demo: some browse only; a rush in the middle makes the queue alert fire.
    "demo": Scenario("demo", people=14, arrival_gap_s=(1.2, 2.6), browse_s=(3.0, 6.0), service_s=(4.8, 6.0),
                     browse_only_every=4),
}


@dataclass
class PersonBox:
    id: int
    box: tuple[float, float, float, float]  # visible part, normalised x1, y1, x2, y2
    foot: tuple[float, float]                # bottom centre of the visible box
    rect: tuple[int, int, int, int]          # full image placement in pixels: x, y, w, h
    visible: float                           # fraction of the person inside the frame
    occluded: float                          # fraction of the box covered by nearer people
    sprite: int
    mirrored: bool
    state: str


@dataclass
class FrameTruth:
    frame: int
    t: float
    people: list[PersonBox]
    zones: dict[str, int]

    @property
    def queue_length(self) -> int:
        return self.zones["queue"]


@dataclass
class PersonTruth:
    id: int
    sprite: int
    buys: bool
    first_frame: int = -1
    last_frame: int = -1
    queue_enter_frame: int | None = None
    queue_exit_frame: int | None = None
    queue_frames: int = 0


@dataclass
class Crossing:
    frame: int
    id: int
    line: str
    direction: str  # "in" or "out"


@dataclass
class Truth:
    scenario: str
    seed: int
    fps: float
    width: int
    height: int
    frames: list[FrameTruth]
    people: list[PersonTruth]
    crossings: list[Crossing]
    rule: scene.QueueRule

    @property
    def entries(self) -> int:
        return sum(1 for c in self.crossings if c.direction == "in")

    @property
    def exits(self) -> int:
        return sum(1 for c in self.crossings if c.direction == "out")

    def queue_lengths(self) -> list[int]:
        return [f.queue_length for f in self.frames]

    def queue_waits(self) -> dict[int, float]:
        return {p.id: p.queue_frames / self.fps for p in self.people if p.queue_enter_frame is not None}

    def expected_incidents(self) -> int:
        return count_incidents(self.queue_lengths(), self.fps, self.rule)

    def summary(self) -> dict:
        """Everything but the per-frame boxes, as JSON-ready data."""
        lengths = self.queue_lengths()
        return {
            "scenario": self.scenario, "seed": self.seed, "fps": self.fps,
            "width": self.width, "height": self.height, "frames": len(self.frames),
            "duration_s": len(self.frames) / self.fps,
            "people": len(self.people), "entries": self.entries, "exits": self.exits,
            "max_queue_length": max(lengths, default=0),
            "queue_rule": asdict(self.rule),
            "expected_queue_incidents": self.expected_incidents(),
            "queue_waits_s": {str(k): round(v, 3) for k, v in self.queue_waits().items()},
            "visitors": [
                {"id": p.id, "sprite": p.sprite, "buys": p.buys, "first_frame": p.first_frame,
                 "last_frame": p.last_frame, "queue_enter_frame": p.queue_enter_frame,
                 "queue_exit_frame": p.queue_exit_frame,
                 "queue_wait_s": None if p.queue_enter_frame is None else round(p.queue_frames / self.fps, 3)}
                for p in self.people
            ],
            "crossings": [asdict(c) for c in self.crossings],
            "definitions": __doc__.split("\n\n")[2].replace("\n", " "),
        }

    def frame_records(self) -> list[dict]:
        """One JSON-ready record per frame: boxes, ids, zone counts (the truth.jsonl lines)."""
        return [
            {"frame": f.frame, "t": round(f.t, 3), "queue_length": f.queue_length, "zones": f.zones,
             "people": [{"id": p.id, "box": [round(v, 5) for v in p.box], "foot": [round(v, 5) for v in p.foot],
                         "visible": round(p.visible, 3), "occluded": round(p.occluded, 3), "state": p.state}
                        for p in f.people]}
            for f in self.frames
        ]


def count_incidents(values: Sequence[int], fps: float, rule: scene.QueueRule) -> int:
    """Incidents an ideal ``value > threshold for for_s, clear at <= clear_threshold`` rule raises."""
    incidents, firing, above_since = 0, False, None
    for i, value in enumerate(values):
        t = i / fps
        if firing:
            if value <= rule.clear_threshold:
                firing = False
            continue
        if value > rule.threshold:
            above_since = t if above_since is None else above_since
            if t - above_since >= rule.for_s:
                incidents, firing, above_since = incidents + 1, True, None
        else:
            above_since = None
    return incidents


@dataclass
class _Agent:
    id: int
    arrive_t: float
    browse_s: float
    service_s: float
    buys: bool
    sprite: int
    aspect: float
    state: str = "outside"
    x: float = scene.OFF_LEFT_X
    y: float = scene.AISLE_Y
    spot: int | None = None
    timer: float = 0.0


def _step_toward(agent: _Agent, tx: float, ty: float, step: float) -> bool:
    """Move the agent up to ``step`` toward (tx, ty); True once it is there."""
    dx, dy = tx - agent.x, ty - agent.y
    dist = (dx * dx + dy * dy) ** 0.5
    if dist <= step:
        agent.x, agent.y = tx, ty
        return True
    agent.x += dx / dist * step
    agent.y += dy / dist * step
    return False


class _Store:
    """The shared state people react to: free aisle spots, the queue order and the till."""

    def __init__(self) -> None:
        self.spot_taken: list[int | None] = [None] * len(scene.AISLE_SPOTS)
        self.queue: list[int] = []
        self.joining = 0  # walking from the aisle to the back of the queue
        self.till_by: int | None = None

    def free_spot(self) -> int | None:
        return next((i for i, who in enumerate(self.spot_taken) if who is None), None)


def _advance(agent: _Agent, store: _Store, t: float, dt: float) -> None:
    step = SPEED * dt
    if agent.state == "outside":
        spot = store.free_spot() if t >= agent.arrive_t else None
        if spot is not None:
            store.spot_taken[spot] = agent.id
            agent.spot, agent.state = spot, "entering"
            agent.x, agent.y = scene.OFF_LEFT_X, scene.AISLE_Y
    elif agent.state == "entering":
        if _step_toward(agent, scene.AISLE_SPOTS[agent.spot], scene.AISLE_Y, step):
            agent.state, agent.timer = "browsing", agent.browse_s
    elif agent.state == "browsing":
        agent.timer -= dt
        if agent.timer > 0:
            return
        if not agent.buys:
            store.spot_taken[agent.spot] = None
            agent.state = "leaving_left"
        elif len(store.queue) + store.joining < scene.QUEUE_SLOTS:  # else browse on until there is room
            store.spot_taken[agent.spot] = None
            store.joining += 1
            agent.state = "joining"
    elif agent.state == "joining":
        # Walk to just behind the back of the queue; the place in line is taken on arrival there,
        # so the order in the queue is the order of stepping into the queue zone.
        if _step_toward(agent, scene.queue_slot_x(len(store.queue)), scene.JOIN_Y, step):
            store.joining -= 1
            store.queue.append(agent.id)
            agent.state = "queueing"
    elif agent.state == "queueing":
        slot = store.queue.index(agent.id)
        arrived = _step_toward(agent, scene.queue_slot_x(slot), scene.QUEUE_Y, step)
        if arrived:
            agent.state = "queueing"
            if slot == 0 and store.till_by is None:
                store.queue.pop(0)
                store.till_by, agent.state = agent.id, "to_till"
    elif agent.state == "to_till":
        if _step_toward(agent, scene.TILL_X, scene.QUEUE_Y, step):
            agent.state, agent.timer = "paying", agent.service_s
    elif agent.state == "paying":
        agent.timer -= dt
        if agent.timer <= 0:
            store.till_by, agent.state = None, "leaving_right"
    elif agent.state == "leaving_right":
        if _step_toward(agent, scene.OFF_RIGHT_X, scene.QUEUE_Y, step):
            agent.state = "gone"
    elif agent.state == "leaving_left":
        if _step_toward(agent, scene.OFF_LEFT_X, scene.AISLE_Y, step):
            agent.state = "gone"


def _make_agents(scenario: Scenario, seed: int, sprite_aspects: Sequence[float]) -> list[_Agent]:
    rng = random.Random(seed)
    sprites = list(range(len(sprite_aspects)))
    random.Random(seed + 1).shuffle(sprites)  # own generator: timings do not depend on the image count
    agents, t = [], LEAD_IN_S
    for i in range(scenario.people):
        sprite = sprites[i % len(sprites)]
        buys = not (scenario.browse_only_every and (i + 1) % scenario.browse_only_every == 0)
        agents.append(_Agent(
            id=i + 1, arrive_t=t, browse_s=rng.uniform(*scenario.browse_s),
            service_s=rng.uniform(*scenario.service_s), buys=buys, sprite=sprite,
            aspect=sprite_aspects[sprite],
        ))
        t += rng.uniform(*scenario.arrival_gap_s)
    return agents


def _person_box(agent: _Agent, width: int, height: int) -> PersonBox | None:
    h = max(1, round(scene.person_height(agent.y) * height))
    w = max(1, round(h * agent.aspect))
    x, y = round(agent.x * width - w / 2), round(agent.y * height) - h
    x1, y1, x2, y2 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
    if x2 <= x1 or y2 <= y1:
        return None
    box = (x1 / width, y1 / height, x2 / width, y2 / height)
    return PersonBox(
        id=agent.id, box=box, foot=((box[0] + box[2]) / 2, box[3]), rect=(x, y, w, h),
        visible=(x2 - x1) * (y2 - y1) / (w * h), occluded=0.0, sprite=agent.sprite,
        mirrored=agent.state == "leaving_left", state=agent.state,
    )


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(w, 0.0) * max(h, 0.0)


def point_in_polygon(x: float, y: float, polygon: Sequence[tuple[float, float]]) -> bool:
    inside = False
    for (x0, y0), (x1, y1) in zip(polygon, list(polygon[1:]) + [polygon[0]], strict=True):
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


def _side(a, b, p) -> float:
    return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])


def line_crossing(prev: tuple[float, float], cur: tuple[float, float], line) -> str | None:
    """``"in"``/``"out"`` when the step prev -> cur crosses the line segment, else None."""
    a, b, inside = line
    s_prev, s_cur = _side(a, b, prev), _side(a, b, cur)
    if s_prev == 0 or s_cur == 0 or (s_prev > 0) == (s_cur > 0):
        return None
    if (_side(prev, cur, a) > 0) == (_side(prev, cur, b) > 0):
        return None
    return "in" if (s_cur > 0) == (_side(a, b, inside) > 0) else "out"


ZONES = {"aisle": scene.AISLE_ZONE, "queue": scene.QUEUE_ZONE, "till": scene.TILL_ZONE}
LINES = {"entrance": scene.ENTRANCE_LINE, "exit": scene.EXIT_LINE}


def simulate(scenario: Scenario, seed: int, sprite_aspects: Sequence[float], fps: float = 10.0,
             width: int = 768, height: int = 432, max_s: float = 600.0) -> Truth:
    """Run the scenario frame by frame and return its ground truth (deterministic per seed)."""
    if not sprite_aspects:
        raise ValueError("need at least one person image")
    agents = _make_agents(scenario, seed, sprite_aspects)
    store, dt = _Store(), 1.0 / fps
    people = {a.id: PersonTruth(id=a.id, sprite=a.sprite, buys=a.buys) for a in agents}
    frames: list[FrameTruth] = []
    crossings: list[Crossing] = []
    last_foot: dict[int, tuple[float, float]] = {}
    done_at: int | None = None
    index = 0
    while index < max_s * fps:
        t = index * dt
        boxes = [b for a in agents if a.state not in ("outside", "gone")
                 if (b := _person_box(a, width, height)) is not None]
        for b in boxes:  # nearer people (feet lower in the picture) are drawn over farther ones
            covered = sum(_overlap(b.box, o.box) for o in boxes if o.foot[1] > b.foot[1])
            area = (b.box[2] - b.box[0]) * (b.box[3] - b.box[1])
            b.occluded = min(covered / area, 1.0)
        zones = {name: 0 for name in ZONES}
        for b in boxes:
            person = people[b.id]
            person.first_frame = index if person.first_frame < 0 else person.first_frame
            person.last_frame = index
            for name, polygon in ZONES.items():
                if point_in_polygon(*b.foot, polygon):
                    zones[name] += 1
                    if name == "queue":
                        if person.queue_enter_frame is None:
                            person.queue_enter_frame = index
                        person.queue_exit_frame = index + 1
                        person.queue_frames += 1
            if b.id in last_foot:
                for line_id, line in LINES.items():
                    direction = line_crossing(last_foot[b.id], b.foot, line)
                    if direction:
                        crossings.append(Crossing(index, b.id, line_id, direction))
            last_foot[b.id] = b.foot
        frames.append(FrameTruth(frame=index, t=t, people=sorted(boxes, key=lambda b: b.foot[1]), zones=zones))
        for agent in agents:
            _advance(agent, store, t, dt)
        if done_at is None and all(a.state == "gone" for a in agents):
            done_at = index
        if done_at is not None and index - done_at >= TAIL_S * fps:
            break
        index += 1
    return Truth(scenario=scenario.name, seed=seed, fps=fps, width=width, height=height, frames=frames,
                 people=list(people.values()), crossings=crossings, rule=scenario.rule)
