"""Carrying detect's k-anonymous attribute groups into the zone windows (pure).

The rule (README "Sentiment"): a group goes, whole, with the ZoneStats record of its zone
(``""`` = the camera view, ``camera:<id>``) and of the aggregate window that contains its
window. Groups of the same zone and window are merged by adding their counts: they are
disjoint sets of tracks (detect counts each track once), so the sum covers at least as many
tracks as either part and stays >= k. A group is never split, re-labelled or combined
across zones or windows. What does not fit is dropped whole, with a reason:
``not_opted_in`` (this config has not switched attributes on for the camera), ``below_k``
(fewer tracks than the store's k), ``bad_counts`` (a label outside the fixed sets, or a
histogram counting more tracks than the group has), ``unknown_zone``, ``spans_windows``
(detect's window does not fit in one aggregate window) and ``late`` (its window has closed).
"""

from __future__ import annotations

from storesight.attributes import AGE_BAND_LABELS, EXPRESSIONS, GENDERS, AttributeGroup

# Histogram field of AttributeGroup -> (metric label name, its fixed label set).
HISTOGRAMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "expressions": ("expression", EXPRESSIONS),
    "age_bands": ("band", AGE_BAND_LABELS),
    "genders": ("gender", GENDERS),
}
# A group's window may end this close after the aggregate window's end (float rounding).
EPSILON_S = 1e-6


def rejection(group: AttributeGroup, k: int | None) -> str | None:
    """Why ``group`` may not be published (None = fine); ``k`` None = the camera has not opted in."""
    if k is None:
        return "not_opted_in"
    if group.distinct_tracks < k:
        return "below_k"
    for field, (_, labels) in HISTOGRAMS.items():
        counts = getattr(group, field)
        if any(label not in labels or n < 0 for label, n in counts.items()) \
                or sum(counts.values()) > group.distinct_tracks:
            return "bad_counts"
    return None


def window_of(group: AttributeGroup, window_s: float) -> float | None:
    """Start of the aggregate window holding the group's whole window, or None when it spans two."""
    start = (group.window_start // window_s) * window_s
    if group.window_end > start + window_s + EPSILON_S or group.window_end < group.window_start:
        return None
    return start


def merge(a: AttributeGroup | None, b: AttributeGroup) -> AttributeGroup:
    """The union of two disjoint groups of the same zone and window: counts added."""
    if a is None:
        return b

    def add(x: dict[str, int], y: dict[str, int]) -> dict[str, int]:
        return {label: x.get(label, 0) + y.get(label, 0) for label in sorted(set(x) | set(y))}

    return AttributeGroup(zone_id=a.zone_id, window_start=min(a.window_start, b.window_start),
                          window_end=max(a.window_end, b.window_end),
                          distinct_tracks=a.distinct_tracks + b.distinct_tracks,
                          expressions=add(a.expressions, b.expressions), age_bands=add(a.age_bands, b.age_bands),
                          genders=add(a.genders, b.genders))


def metric_values(group: AttributeGroup) -> dict[str, dict[str, int]]:
    """Metric label name -> {label: tracks} over the whole fixed label set (0 = nobody in the group)."""
    return {name: {label: int(getattr(group, field).get(label, 0)) for label in labels}
            for field, (name, labels) in HISTOGRAMS.items()}
