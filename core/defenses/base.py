"""Result type, base class and helpers shared by every defense."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import RobustScaler
from sklearn.svm import SVC

from core._validation import Interval
from core.params import Declared, Float, Registry

__all__ = ["Sanitized", "Defense", "check_contamination", "resolve_contamination", "CONTAMINATION",
           "robust_scale", "victim_loss", "DEFENSES"]


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
        True when flagged rows are relabelled rather than dropped (a relabelling
        defense may still drop the flagged rows it is unsure of: ``keep`` False).
    """

    is_clean: np.ndarray
    score: np.ndarray
    keep: np.ndarray
    y: np.ndarray
    relabels: bool = False

    @property
    def n_flagged(self) -> int:
        return int((~self.is_clean).sum())


#: numeric contamination (also "auto")
CONTAMINATION_RANGE = Interval(0.0, 0.5, low_open=True)
#: the contamination parameter every fraction-based defense declares
CONTAMINATION = Float("contamination", "auto", 0.0, 0.5, "expected share of poison: the share "
                      "dropped ('auto': the detector's own threshold)", low_open=True,
                      words=("auto",), step=0.01)


def check_contamination(value: float | str) -> float | str:
    """``"auto"`` or a float in (0, 0.5], as Isolation Forest accepts."""
    if isinstance(value, str):
        if value != "auto":
            raise ValueError(f"contamination={value!r} is not 'auto' or a number in (0, 0.5]")
        return value
    return CONTAMINATION_RANGE.check("contamination", value)


def resolve_contamination(value: float | str, auto: float) -> float:
    """The share a fraction-based defense removes: ``value``, or ``auto`` for ``"auto"``."""
    return auto if value == "auto" else float(value)


def robust_scale(X: np.ndarray) -> np.ndarray:
    """Centre on the median and divide by the interquartile range, per feature.

    Unlike mean/std standardization, a poison minority (e.g. a far-away injected
    cluster) can neither shift the centre nor stretch the scale much.
    """
    return RobustScaler().fit_transform(np.asarray(X, dtype=float))


def victim_loss(fitted, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-point training loss of the victim's own kind.

    Hinge ``max(0, 1 - m)`` for SVMs (and for the constant stand-in a one-class
    fit returns), logistic ``log(1 + exp(-m))`` for logistic regression, with
    the margin ``m = (2y - 1) f(x)`` from ``fitted.decision_function``.
    """
    clf = fitted[-1] if isinstance(fitted, Pipeline) else fitted
    margin = (2 * np.asarray(y) - 1) * fitted.decision_function(X)
    if isinstance(clf, LogisticRegression):
        return np.logaddexp(0.0, -margin)
    return np.maximum(0.0, 1.0 - margin)


class Defense(Declared, ABC):
    """Base class. Subclasses set ``name``, ``summary``, declare ``params`` and implement
    ``sanitize``.

    ``Defense(**params)`` takes the declared parameters by name (see
    :mod:`core.params`). Class attributes the UI and the CLI read besides the declaration:

    ``needs_trusted``
        True when ``sanitize`` requires the trusted sample (``trusted_fraction > 0``).
    ``is_baseline``
        A reference point, not a defense to rank (``none``, ``oracle``).
    ``uses_true_mask``
        It reads the true ``is_poison`` mask (only the oracle may).
    ``cost``
        When the dashboard runs it in the background (:class:`core.params.Cost`).
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    needs_trusted: ClassVar[bool] = False
    is_baseline: ClassVar[bool] = False
    uses_true_mask: ClassVar[bool] = False

    @abstractmethod
    def sanitize(self, X: np.ndarray, y: np.ndarray, *, model=None, random_state=None,
                 is_poison: np.ndarray | None = None, trusted=None) -> Sanitized:
        """Inspect the (possibly poisoned) training set and decide what to keep."""

    @staticmethod
    def _drop(flagged: np.ndarray, score: np.ndarray, y: np.ndarray) -> Sanitized:
        flagged = np.asarray(flagged, dtype=bool)
        return Sanitized(~flagged, np.asarray(score, dtype=float), ~flagged, y.copy())


#: every defense, in registration order: the registry the CLI and the dashboard read
DEFENSES: Registry = Registry("defense", Defense)


def is_svm(model) -> bool:
    """True when the victim (a pipeline or a bare estimator) ends in an SVC."""
    return isinstance(model[-1] if isinstance(model, Pipeline) else model, SVC)
