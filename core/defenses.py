"""Defenses: data sanitization before (re)training.

Every defense has one verb,
``sanitize(X, y, *, model, random_state, is_poison, trusted)``, and returns a :class:`Sanitized` report: per-point ``is_clean`` flags (False =
flagged as poison), a continuous ``score`` (higher = more suspicious), and
the training set to refit on (``keep`` rows with labels ``y``). Defenses that
drop points keep the unflagged rows; defenses that relabel keep every row
and change the flagged labels (``relabels`` is then True).

Only :class:`Oracle` may look at the true ``is_poison`` mask; every other
defense ignores it. ``model`` is the (unfitted) victim, for defenses that
retrain it; ``trusted`` is an optional ``(X, y)`` sample the defender knows to
be clean, held out of both the training and the test data.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from core._validation import check_choice, check_int, check_real

__all__ = ["Sanitized", "Defense", "NoDefense", "Oracle", "IsolationForestDefense",
           "KNNSanitize", "DEFENSES", "make_defense", "defense_from_config", "check_contamination"]


@dataclass(frozen=True, eq=False)
class Sanitized:
    """What a defense decided about each training row.

    Attributes
    ----------
    is_clean : ndarray of bool
        False where the defense flags the row as poison.
    score : ndarray of float
        Suspicion, higher = more likely poison (comparable within one run).
    keep : ndarray of bool
        Rows the model is retrained on.
    y : ndarray of int
        Labels to retrain with (differs from the input only for relabelling defenses).
    relabels : bool
        True when flagged rows are relabelled rather than dropped.
    """

    is_clean: np.ndarray
    score: np.ndarray
    keep: np.ndarray
    y: np.ndarray
    relabels: bool = False

    @property
    def n_flagged(self) -> int:
        return int((~self.is_clean).sum())


def check_contamination(value: float | str) -> float | str:
    """``"auto"`` or a float in (0, 0.5], as Isolation Forest accepts."""
    if isinstance(value, str):
        if value != "auto":
            raise ValueError(f"contamination={value!r} is not 'auto' or a number in (0, 0.5]")
        return value
    return check_real("contamination", value, 0.0, 0.5, low_open=True)


class Defense(ABC):
    """Base class. Subclasses set ``name``, ``summary`` and implement ``sanitize``."""

    name: ClassVar[str]
    summary: ClassVar[str]

    @abstractmethod
    def sanitize(self, X: np.ndarray, y: np.ndarray, *, model=None, random_state=None,
                 is_poison: np.ndarray | None = None, trusted=None) -> Sanitized:
        """Inspect the (possibly poisoned) training set and decide what to keep."""

    @staticmethod
    def _drop(flagged: np.ndarray, score: np.ndarray, y: np.ndarray) -> Sanitized:
        return Sanitized(~flagged, np.asarray(score, dtype=float), ~flagged, y.copy())


class NoDefense(Defense):
    """Train on everything: the poisoned baseline."""

    name = "none"
    summary = "no defense: retrain on the poisoned data as it is"

    def sanitize(self, X, y, *, model=None, random_state=None, is_poison=None,
                 trusted=None) -> Sanitized:
        return self._drop(np.zeros(len(y), dtype=bool), np.zeros(len(y)), y)


class Oracle(Defense):
    """Remove exactly the poison: the upper bound of any data-sanitization defense.

    Threat model: the defender knows the true poison mask, which no real
    defender does; it shows what a perfect filter would recover.
    """

    name = "oracle"
    summary = "remove exactly the poison points (upper bound)"

    def sanitize(self, X, y, *, model=None, random_state=None, is_poison=None,
                 trusted=None) -> Sanitized:
        if is_poison is None:
            raise ValueError("the oracle defense needs the true is_poison mask")
        flagged = np.asarray(is_poison, dtype=bool)
        return self._drop(flagged, flagged.astype(float), y)


class IsolationForestDefense(Defense):
    """Drop the training points an Isolation Forest finds most isolated.

    Liu, Ting & Zhou, "Isolation Forest", ICDM 2008: anomalies are isolated by
    fewer random axis-aligned splits (so per-feature scaling does not matter).
    Looks at features only, not at labels, so it sees injected outliers but not flipped labels.
    Threat model: the defender knows nothing about the attack; it assumes
    poison is rare and lies away from the bulk of the data.

    Parameters
    ----------
    contamination : float in (0, 0.5] or "auto", default="auto"
        Expected share of poison; the share of points dropped (``"auto"`` uses
        the threshold of the original paper).
    """

    name = "isolation_forest"
    summary = "drop feature-space outliers found by an Isolation Forest"

    def __init__(self, *, contamination: float | str = "auto") -> None:
        self.contamination = check_contamination(contamination)

    def sanitize(self, X, y, *, model=None, random_state=None, is_poison=None,
                 trusted=None) -> Sanitized:
        forest = IsolationForest(contamination=self.contamination, random_state=random_state).fit(X)
        normality = forest.score_samples(X)
        flagged = normality < forest.offset_  # what forest.predict(X) == -1 computes
        return self._drop(flagged, -normality, y)


class KNNSanitize(Defense):
    """kNN label sanitization: relabel (or drop) points their neighbours disagree with.

    Paudice, Muñoz-González & Lupu, "Label Sanitization against Label Flipping
    Poisoning Attacks", ECML PKDD workshops 2018. For each training point the
    ``k`` nearest other points (standardized features) vote; if the winning
    label differs from the point's label and holds at least ``threshold`` of
    the votes, the point is flagged and relabelled to it (or dropped).
    Threat model: the defender assumes poison is a minority in every
    neighbourhood; it needs no trusted data.

    Parameters
    ----------
    k : int, default=10
        Neighbours that vote, 1 to 100.
    threshold : float in (0.5, 1], default=0.6
        Share of the votes the disagreeing label needs.
    mode : {"relabel", "drop"}, default="relabel"
    """

    name = "knn_sanitize"
    summary = "relabel points whose k nearest neighbours mostly disagree"

    def __init__(self, *, k: int = 10, threshold: float = 0.6, mode: str = "relabel") -> None:
        self.k = check_int("k", k, 1, 100)
        self.threshold = check_real("threshold", threshold, 0.5, 1.0, low_open=True)
        self.mode = check_choice("mode", mode, ["relabel", "drop"])

    def sanitize(self, X, y, *, model=None, random_state=None, is_poison=None,
                 trusted=None) -> Sanitized:
        k = min(self.k, len(y) - 1)
        if k < 1:
            raise ValueError("knn_sanitize needs at least 2 training points")
        Z = StandardScaler().fit_transform(X)
        # kneighbors() without X excludes each point from its own neighbours
        neigh = NearestNeighbors(n_neighbors=k).fit(Z).kneighbors(return_distance=False)
        disagree = (y[neigh] != y[:, None]).mean(axis=1)
        flagged = disagree >= self.threshold
        if self.mode == "drop":
            return self._drop(flagged, disagree, y)
        y_new = np.where(flagged, 1 - y, y)
        return Sanitized(~flagged, disagree, np.ones(len(y), dtype=bool), y_new, relabels=True)


DEFENSES: dict[str, type[Defense]] = {
    cls.name: cls for cls in (NoDefense, Oracle, IsolationForestDefense, KNNSanitize)
}


def make_defense(name: str, **params) -> Defense:
    """Build the registered defense ``name`` with its keyword parameters."""
    check_choice("defense", name, DEFENSES)
    return DEFENSES[name](**params)


def defense_from_config(config) -> Defense:
    """The defense an :class:`~core.experiment.ExperimentConfig` names, with its parameters."""
    params: dict = {}
    if config.defense == "isolation_forest":
        params = {"contamination": config.contamination}
    elif config.defense == "knn_sanitize":
        params = {"k": config.knn_k, "threshold": config.knn_threshold}
    return make_defense(config.defense, **params)
