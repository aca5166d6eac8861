"""Metrics: computed once, here, and stored in results; the UI never recomputes them."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import precision_recall_fscore_support

__all__ = ["DetectionMetrics", "detection_metrics"]


@dataclass(frozen=True)
class DetectionMetrics:
    """How well a defense's flags match the true poison mask.

    ``precision`` = poison among flagged, ``recall`` = share of the poison
    flagged, ``f1`` their harmonic mean (all 0 when undefined, e.g. nothing
    flagged). ``n_clean_lost`` counts clean points flagged (dropped or
    relabelled).
    """

    precision: float
    recall: float
    f1: float
    n_flagged: int
    n_poison_caught: int
    n_clean_lost: int
    n_poison: int

    def to_dict(self) -> dict:
        return asdict(self)


def detection_metrics(is_poison: np.ndarray, is_clean: np.ndarray) -> DetectionMetrics:
    """Score flags (``is_clean`` False = flagged) against the true ``is_poison`` mask."""
    truth = np.asarray(is_poison, dtype=bool)
    flagged = ~np.asarray(is_clean, dtype=bool)
    if truth.shape != flagged.shape:
        raise ValueError(f"is_poison has shape {truth.shape} but is_clean has {flagged.shape}")
    p, r, f, _ = precision_recall_fscore_support(
        truth, flagged, average="binary", pos_label=True, zero_division=0.0)
    return DetectionMetrics(
        precision=float(p), recall=float(r), f1=float(f),
        n_flagged=int(flagged.sum()),
        n_poison_caught=int((flagged & truth).sum()),
        n_clean_lost=int((flagged & ~truth).sum()),
        n_poison=int(truth.sum()),
    )
