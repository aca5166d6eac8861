"""Metrics: computed once, here, and stored in results; the UI never recomputes them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

__all__ = ["DetectionMetrics", "detection_metrics", "detection_curves", "target_success_rate",
           "attack_success_rate"]


@dataclass(frozen=True)
class DetectionMetrics:
    """How well a defense's flags (and its suspicion score) match the true poison mask.

    ``precision`` = poison among flagged, ``recall`` = share of the poison
    flagged, ``f1`` their harmonic mean (all 0 when undefined, e.g. nothing
    flagged). ``n_clean_lost`` counts clean points flagged (dropped or
    relabelled).

    ``roc_auc`` and ``average_precision`` rank the points by the continuous
    suspicion score, whatever threshold the defense chose: ROC AUC is the
    chance that a random poison point scores above a random clean one (ties
    count half: a constant score gives 0.5), average precision the area under
    the precision-recall curve (a constant score gives the poison share).
    Both are ``None`` -- ``null`` in JSON -- when they are undefined: no score
    given, or the training set has no poison point or no clean point.
    """

    precision: float
    recall: float
    f1: float
    n_flagged: int
    n_poison_caught: int
    n_clean_lost: int
    n_poison: int
    roc_auc: float | None = None
    average_precision: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _masks(is_poison, is_clean=None, score=None) -> tuple[np.ndarray, ...]:
    truth = np.asarray(is_poison, dtype=bool)
    out = [truth]
    if is_clean is not None:
        flagged = ~np.asarray(is_clean, dtype=bool)
        if flagged.shape != truth.shape:
            raise ValueError(f"is_poison has shape {truth.shape} but is_clean has {flagged.shape}")
        out.append(flagged)
    if score is not None:
        score = np.asarray(score, dtype=float)
        if score.shape != truth.shape:
            raise ValueError(f"is_poison has shape {truth.shape} but score has {score.shape}")
        if not np.isfinite(score).all():
            raise ValueError("score has non-finite values; expected finite suspicion scores")
        out.append(score)
    return tuple(out)


def _ranking_defined(truth: np.ndarray) -> bool:
    return 0 < truth.sum() < truth.size


def _ranking_scores(truth: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """ROC AUC and average precision, clipped to [0, 1]: scikit-learn's average
    precision sums precision x recall steps and can land a rounding error above 1."""
    auc = float(roc_auc_score(truth, score))
    ap = float(average_precision_score(truth, score))
    return min(max(auc, 0.0), 1.0), min(max(ap, 0.0), 1.0)


def detection_metrics(is_poison: np.ndarray, is_clean: np.ndarray, *,
                      score: np.ndarray | None = None) -> DetectionMetrics:
    """Score flags (``is_clean`` False = flagged) against the true ``is_poison`` mask.

    With ``score`` (the defense's suspicion, higher = more suspicious) also
    ``roc_auc`` and ``average_precision``; see :class:`DetectionMetrics` for
    when they are ``None``.
    """
    truth, flagged = _masks(is_poison, is_clean)
    p, r, f, _ = precision_recall_fscore_support(
        truth, flagged, average="binary", pos_label=True, zero_division=0.0)
    auc = ap = None
    if score is not None:
        _, score = _masks(is_poison, score=score)
        if _ranking_defined(truth):
            auc, ap = _ranking_scores(truth, score)
    return DetectionMetrics(
        precision=float(p), recall=float(r), f1=float(f),
        n_flagged=int(flagged.sum()),
        n_poison_caught=int((flagged & truth).sum()),
        n_clean_lost=int((flagged & ~truth).sum()),
        n_poison=int(truth.sum()),
        roc_auc=auc,
        average_precision=ap,
    )


def target_success_rate(model, targets: np.ndarray, target_label: int) -> float:
    """Share of a targeted attack's ``targets`` that ``model`` classifies as ``target_label``.

    The success measure of targeted (integrity) poisoning: 0 = every target
    still gets its honest label, 1 = the attacker got all of them.
    """
    targets = np.asarray(targets, dtype=float)
    if targets.ndim != 2 or len(targets) == 0:
        raise ValueError(f"targets has shape {targets.shape}; expected (n_targets, n_features)")
    return float(np.mean(model.predict(targets) == target_label))


def attack_success_rate(model, X_test: np.ndarray, y_test: np.ndarray, trigger,
                        source_label: int, target_label: int) -> float:
    """Share of held-out ``source_label`` test points, trigger stamped, given ``target_label``.

    The success measure of a backdoor (ASR). ``X_test`` is the clean test set in the
    poisoned set's feature space (``trigger.pad`` applied); ``trigger.stamp`` puts
    the trigger on. NaN when the test set has no ``source_label`` point.
    """
    X_src = np.asarray(X_test, dtype=float)[np.asarray(y_test) == source_label]
    if len(X_src) == 0:
        return float("nan")
    return float(np.mean(model.predict(trigger.stamp(X_src)) == target_label))


def _floats(a: np.ndarray) -> list:
    """A JSON-safe list: floats, with ``None`` for the infinite thresholds scikit-learn uses."""
    return [float(v) if np.isfinite(v) else None for v in np.asarray(a, dtype=float)]


def detection_curves(is_poison: np.ndarray, score: np.ndarray, *,
                     is_clean: np.ndarray | None = None) -> dict[str, Any]:
    """ROC and precision-recall curves of a suspicion score, plus the defense's operating point.

    Parameters
    ----------
    is_poison : array of bool
        The true poison mask.
    score : array of float
        Suspicion per point, higher = more suspicious.
    is_clean : array of bool, optional
        The defense's verdict (False = flagged); gives the operating point.

    Returns
    -------
    dict, JSON-ready (lists of floats, ``None`` where undefined)
        ``"roc"``: ``{"fpr", "tpr", "thresholds"}`` from ``sklearn.metrics.roc_curve``
        (``thresholds[0]`` is ``None``: scikit-learn's +inf, "flag nothing");
        ``"pr"``: ``{"precision", "recall", "thresholds"}`` from
        ``precision_recall_curve`` (``thresholds`` is one shorter: the last
        point, precision 1 at recall 0, has none);
        ``"roc_auc"``, ``"average_precision"``; ``"n_poison"``, ``"n_clean"``.
        ``"roc"``, ``"pr"`` and the two areas are ``None`` when there is no
        poison point or no clean point (the curves are undefined).
        ``"operating_point"``: ``None`` without ``is_clean``, else
        ``{"fpr", "tpr", "precision", "recall", "n_flagged", "threshold"}``
        of the actual flags (``precision`` is 0 when nothing is flagged, ``fpr`` /
        ``tpr`` are ``None`` without clean / poison points). ``threshold`` is
        the lowest score among the flagged points when the flags are exactly
        the points scoring at least that much (so the point lies on the
        curves), else ``None`` (e.g. nothing flagged, or a defense whose flags
        are not a cut of its score).
    """
    truth, score = _masks(is_poison, score=score)
    n_poison, n_clean = int(truth.sum()), int((~truth).sum())
    out: dict[str, Any] = {"roc": None, "pr": None, "roc_auc": None, "average_precision": None,
                           "n_poison": n_poison, "n_clean": n_clean, "operating_point": None}
    if _ranking_defined(truth):
        fpr, tpr, roc_t = roc_curve(truth, score)
        precision, recall, pr_t = precision_recall_curve(truth, score)
        out["roc"] = {"fpr": _floats(fpr), "tpr": _floats(tpr), "thresholds": _floats(roc_t)}
        out["pr"] = {"precision": _floats(precision), "recall": _floats(recall),
                     "thresholds": _floats(pr_t)}
        out["roc_auc"], out["average_precision"] = _ranking_scores(truth, score)
    if is_clean is not None:
        _, flagged = _masks(is_poison, is_clean)
        caught = int((flagged & truth).sum())
        n_flagged = int(flagged.sum())
        threshold = None
        if n_flagged and np.array_equal(flagged, score >= score[flagged].min()):
            threshold = float(score[flagged].min())
        out["operating_point"] = {
            "fpr": (n_flagged - caught) / n_clean if n_clean else None,
            "tpr": caught / n_poison if n_poison else None,
            "precision": caught / n_flagged if n_flagged else 0.0,
            "recall": caught / n_poison if n_poison else None,
            "n_flagged": n_flagged,
            "threshold": threshold,
        }
    return out
