"""The store as a whole: occupancy and footfall from the store's entrance lines, with drift correction.

Fed the closed windows the aggregator already produces (``WindowStats``): the ``line:<id>`` rows of
the store's entrance lines (any of its cameras) and, for reconciliation, its zone rows. Pure Python:
no Kafka or Redis; the state is plain JSON (``StoreOccupancy.state_json`` / ``from_json``).

Definitions (the README repeats them):
- A store window ``[S, S + window_s)`` is emitted once every entrance line has reported window S, or
  once some entrance line reported a window ``wait_windows`` later (a camera that never started must
  not stop the store): missing lines count as unknown (coverage 0). Windows are emitted in order.
- entries / exits: sums over the entrance lines; footfall = entries. ``footfall_day``: entries of the
  store-local day (date of the window start in the store's time zone) up to this window.
- occupancy (at the window end) = previous + entries - exits, never below 0: a missed entry (or a
  person counted out twice) would make it negative; the clamp sets 0 and counts the persons dropped.
- Drift correction: the occupancy is reset to 0 whenever the store opens or closes
  (``Store.is_open`` at window ends, business hours in the store's time zone, DST included) and, with
  ``occupancy_reconcile_empty_s``, when every zone of the store has seen nobody (OK windows with
  ``occupancy_max`` 0) for that long. The occupancy a reset discards is ``drift``.
- A line row for an already emitted store window is late: its counts go into the next window.
  A row for a line window already applied is a replay (after a restart) and is ignored, so feeding the
  same rows twice changes nothing.

>>> import datetime as dt
>>> from storesight.config import parse_config
>>> cam = {"id": "door-cam", "source": "x.mp4", "lines": [{"id": "door", "a": [0, .5], "b": [1, .5],
...        "in_point": [.5, 1]}]}
>>> cfg = parse_config({"region": "r", "stores": [{"id": "s1", "timezone": "UTC", "cameras": [cam],
...        "entrances": [{"camera": "door-cam", "line": "door"}]}]})
>>> from services.aggregate.records import WindowStats
>>> occ = StoreOccupancy(cfg.stores[0], window_s=60)
>>> row = lambda s, i, o: WindowStats("s1", "line:door", "line", s, s + 60, "OK", 1.0, entries=i, exits=o)
>>> [(w.entries, w.exits, w.occupancy, w.clamped) for w in occ.feed([row(0, 3, 1), row(60, 0, 4)])]
[(3, 1, 2, 0), (0, 4, 0, 2)]
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from services.aggregate.records import OK, PARTIAL, UNKNOWN, WindowStats
from storesight.config import Store

NO_RESET, OPENING, CLOSING, RECONCILED = "", "opening", "closing", "reconciled"
# Open/closed is sampled at most this many times across a gap between two store windows.
MAX_SAMPLES = 10_000


@dataclass
class StoreWindow:
    """The store over one window; counts of entrance lines, occupancy at the window end."""

    store_id: str
    window_start: float
    window_end: float
    local_date: str  # store-local date of the window start, YYYY-MM-DD
    status: str  # OK | PARTIAL | UNKNOWN over the entrance lines' windows
    coverage: float  # mean coverage of the entrance lines (a missing line counts 0)
    open: bool  # store open at the window end
    entries: int
    exits: int
    occupancy: int
    footfall_day: int
    clamped: int = 0  # persons dropped by the clamp at 0 in this window
    reset: str = NO_RESET  # "", "opening", "closing" or "reconciled"
    drift: int = 0  # occupancy discarded by the reset
    late_rows: int = 0  # entrance-line rows that came after their store window and were folded in


@dataclass
class StoreState:
    """What the store counter remembers between windows (plain JSON)."""

    occupancy: int = 0
    footfall_day: int = 0
    day: str = ""
    last_end: float | None = None  # end of the last emitted store window
    clamped_total: int = 0
    drift_total: int = 0
    applied: dict[str, float] = field(default_factory=dict)  # entrance line -> last window start taken
    # window start -> line -> [entries, exits, status, coverage]
    pending: list[list] = field(default_factory=list)  # [[start, {line: [in, out, status, coverage]}], ...]
    carry: list[int] = field(default_factory=lambda: [0, 0, 0])  # late entries, exits, rows
    empty_since: dict[str, float | None] = field(default_factory=dict)  # zone -> start of empty run
    seen_until: dict[str, float] = field(default_factory=dict)  # zone -> end of its latest window


class StoreOccupancy:
    """Occupancy and footfall of one store from its entrance lines' closed windows."""

    def __init__(self, store: Store, window_s: float, wait_windows: int = 2, state: StoreState | None = None):
        if not store.entrances:
            raise ValueError(f"store {store.id!r} has no entrances")
        self.store = store
        self.window_s = float(window_s)
        self.wait_windows = wait_windows
        self.lines = {e.line for e in store.entrances}  # line ids are unique within a store
        self.zones = {z.id for c in store.cameras for z in c.zones}
        self.state = state or StoreState()
        self.duplicates = 0  # replayed rows ignored

    # ------------------------------------------------------------ input

    def feed(self, rows: Iterable[WindowStats]) -> list[StoreWindow]:
        """Take what the aggregator closed (other stores, kinds and heatmaps are ignored); return the
        store windows now complete."""
        for row in rows:
            if not isinstance(row, WindowStats) or row.store_id != self.store.id or row.live:
                continue
            if row.zone_kind == "line" and row.zone_id.startswith("line:") and row.zone_id[5:] in self.lines:
                self._line(row.zone_id[5:], row)
            elif row.zone_id in self.zones:
                self._zone(row)
        return self._emit()

    def _line(self, line: str, row: WindowStats) -> None:
        st = self.state
        if row.window_start <= st.applied.get(line, -math.inf):
            self.duplicates += 1
            return
        st.applied[line] = row.window_start
        entries, exits = row.entries or 0, row.exits or 0
        if st.last_end is not None and row.window_start < st.last_end:
            st.carry = [st.carry[0] + entries, st.carry[1] + exits, st.carry[2] + 1]
            return
        lines = next((p[1] for p in st.pending if p[0] == row.window_start), None)
        if lines is None:
            lines = {}
            st.pending.append([row.window_start, lines])
            st.pending.sort(key=lambda p: p[0])
        lines[line] = [entries, exits, row.status, row.coverage]

    def _zone(self, row: WindowStats) -> None:
        st = self.state
        st.seen_until[row.zone_id] = max(st.seen_until.get(row.zone_id, -math.inf), row.window_end)
        if row.status == OK and row.occupancy_max == 0:
            if st.empty_since.get(row.zone_id) is None:
                st.empty_since[row.zone_id] = row.window_start
        else:
            st.empty_since[row.zone_id] = None

    # ------------------------------------------------------------ output

    def _emit(self) -> list[StoreWindow]:
        st, out = self.state, []
        while st.pending:
            start, lines = st.pending[0]
            newest = max(st.applied.values())
            if set(lines) != self.lines and newest < start + self.wait_windows * self.window_s:
                break
            st.pending.pop(0)
            out.append(self._window(start, lines))
        return out

    def _window(self, start: float, lines: dict[str, list]) -> StoreWindow:
        st, end = self.state, start + self.window_s
        entries = sum(v[0] for v in lines.values()) + st.carry[0]
        exits = sum(v[1] for v in lines.values()) + st.carry[1]
        late, st.carry = st.carry[2], [0, 0, 0]
        coverage = sum(v[3] for v in lines.values()) / len(self.lines)
        statuses = {v[2] for v in lines.values()}
        if statuses == {OK} and len(lines) == len(self.lines):
            status = OK
        elif coverage <= 0:
            status = UNKNOWN
        else:
            status = PARTIAL
        day = dt.datetime.fromtimestamp(start, self.store.tz).date().isoformat()
        if day != st.day:
            st.day, st.footfall_day = day, 0
        st.footfall_day += entries
        raw = st.occupancy + entries - exits
        clamped = max(0, -raw)
        st.occupancy = max(0, raw)
        st.clamped_total += clamped
        is_open = self.store.is_open(_utc(end))
        reset, drift = NO_RESET, 0
        if st.last_end is not None and self._open_changed(st.last_end, end):
            reset = OPENING if is_open else CLOSING
        elif st.occupancy > 0 and self._zones_empty(end):
            reset = RECONCILED
        if reset:
            drift, st.occupancy = st.occupancy, 0
            st.drift_total += drift
        st.last_end = end
        return StoreWindow(self.store.id, start, end, day, status, coverage, is_open, entries, exits,
                           st.occupancy, st.footfall_day, clamped, reset, drift, late)

    def _open_changed(self, since: float, until: float) -> bool:
        """Did the store open or close in (since, until]? Sampled at window ends (gaps included)."""
        before = self.store.is_open(_utc(since))
        step = max(self.window_s, (until - since) / MAX_SAMPLES)
        t = since
        while t < until:
            t = min(t + step, until)
            if self.store.is_open(_utc(t)) != before:
                return True
        return False

    def _zones_empty(self, end: float) -> bool:
        limit = self.store.occupancy_reconcile_empty_s
        if limit is None or not self.zones:
            return False
        st = self.state
        for zone in self.zones:
            since = st.empty_since.get(zone)
            if since is None or st.seen_until.get(zone, -math.inf) < end or end - since < limit:
                return False
        return True

    # ------------------------------------------------------------ state

    def state_json(self) -> str:
        return json.dumps(asdict(self.state), separators=(",", ":"))

    @classmethod
    def from_json(cls, store: Store, window_s: float, text: str | bytes, **options) -> StoreOccupancy:
        """Restore a saved state; a state that does not parse is a clear error (the caller decides)."""
        data = json.loads(text)
        return cls(store, window_s, state=StoreState(**data), **options)


def _utc(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.UTC)
