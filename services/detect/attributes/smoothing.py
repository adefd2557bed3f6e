"""Per-track smoothing: a confidence-weighted majority vote over the frames of a track.

A single frame never decides anything: a track has attributes only once at least
``min_observations`` of its faces were classified. Each frame votes for its most likely
class with weight = face score x class probability, and the class with the largest total
wins. This lives in memory only; per-track results never leave the process.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from storesight.attributes import EXPRESSIONS, GENDERS, age_band


@dataclass(frozen=True)
class Observation:
    """One classified face of a track in one frame."""

    face_score: float
    expression_probs: np.ndarray  # (7,) in EXPRESSIONS order
    age_years: float
    age_confidence: float
    gender_probs: np.ndarray  # (2,) in GENDERS order


@dataclass(frozen=True)
class TrackAttributes:
    """The smoothed result for one track."""

    expression: str
    age_band: str
    gender: str
    observations: int


@dataclass
class TrackVotes:
    observations: int = 0
    expression: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    age_band: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    gender: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, obs: Observation) -> None:
        self.observations += 1
        best = int(np.argmax(obs.expression_probs))
        self.expression[EXPRESSIONS[best]] += obs.face_score * float(obs.expression_probs[best])
        self.age_band[age_band(obs.age_years)] += obs.face_score * obs.age_confidence
        best = int(np.argmax(obs.gender_probs))
        self.gender[GENDERS[best]] += obs.face_score * float(obs.gender_probs[best])

    def result(self, min_observations: int) -> TrackAttributes | None:
        """The winning class of each attribute, or None while the track has too few faces."""
        if self.observations < max(min_observations, 1):
            return None
        return TrackAttributes(_winner(self.expression), _winner(self.age_band), _winner(self.gender),
                               self.observations)


def _winner(votes: dict[str, float]) -> str:
    # Ties go to the alphabetically first label, so the result never depends on frame order.
    return min(votes, key=lambda label: (-votes[label], label))
