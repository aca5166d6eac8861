"""A backdoor: poison that teaches the model to give the target label to inputs with a trigger."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_random_state

from core.attacks.base import ATTACKS, Attack, PoisonedSet, budget
from core.params import Bool, Choice, Float, Int

__all__ = ["Backdoor", "Trigger", "make_trigger", "PATCH_PIXELS"]

#: the digits trigger: the 2x2 bottom-right corner of the 8x8 image (pixel indices)
PATCH_PIXELS: tuple[int, ...] = (54, 55, 62, 63)
#: the value of a bright pixel in scikit-learn's digits
PATCH_VALUE = 16.0


@dataclass(frozen=True)
class Trigger:
    """Where the trigger goes and what it writes.

    ``stamp(X)`` sets columns ``columns`` of every row to ``value``. When
    ``added`` is True the trigger is an extra feature the real data does not
    have: ``pad(X)`` appends that column as zeros (trigger absent), so the clean
    model, the test set and the decision grid live in the same space as the
    poisoned training set. ``kind`` is ``"patch"`` (digits pixels), ``"feature"``
    (an added column) or ``"column"`` (an existing column, e.g. of a CSV).
    """

    kind: str
    columns: tuple[int, ...]
    value: float
    added: bool

    def pad(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        return np.hstack([X, np.zeros((len(X), 1))]) if self.added else X

    def stamp(self, X: np.ndarray) -> np.ndarray:
        """``X`` (already padded) with the trigger on every row; a copy."""
        out = np.array(X, dtype=float, copy=True)
        out[:, list(self.columns)] = self.value
        return out

    def to_dict(self) -> dict:
        return {"kind": self.kind, "columns": list(self.columns), "value": self.value,
                "added": self.added}


def make_trigger(n_features: int, *, trigger: str = "auto", value: float = 1.0,
                 column: int | None = None) -> Trigger:
    """The trigger for data with ``n_features`` columns (``"auto"``: a patch on 8x8 images)."""
    if trigger == "auto":
        trigger = "patch" if n_features == 64 else "feature"
    if trigger == "patch":
        if n_features != 64:
            raise ValueError(f"trigger='patch' needs 8x8 images (64 features), got {n_features}")
        return Trigger("patch", PATCH_PIXELS, PATCH_VALUE, False)
    if trigger == "feature":
        return Trigger("feature", (n_features,), float(value), True)
    if column is None or not 0 <= column < n_features:
        raise ValueError(f"trigger='column' needs column in [0, {n_features - 1}], "
                         f"got {column!r}")
    return Trigger("column", (int(column),), float(value), False)


@ATTACKS.register
class Backdoor(Attack):
    """Plant a trigger: stamped copies of training points labelled ``target_label``.

    The model stays accurate on clean inputs but gives ``target_label`` to any
    input carrying the trigger. Gu, Dolan-Gavitt & Garg, "BadNets: Identifying
    Vulnerabilities in the Machine Learning Model Supply Chain" (2017), adapted
    to tabular data and convex models. With ``clean_label=True`` the poison are
    stamped copies of *target-class* points, correctly labelled (the idea of
    Turner, Tsipras & Madry, "Label-Consistent Backdoor Attacks", 2019): no
    label is wrong, so label-based defenses have nothing to see.

    The trigger (:func:`make_trigger`): on 8x8 digits a bright 2x2 patch in the
    bottom-right corner; elsewhere an extra feature, 0 on real data and
    ``trigger_value`` when present (the poisoned set then has one more column);
    ``trigger="column"`` writes ``trigger_value`` into an existing ``column``
    (a CSV field the user picks).

    Threat model: the attacker can add up to ``round(rate * n_train)`` points to
    the training set and choose their features and labels; it needs no model.

    Parameters
    ----------
    rate : float
        Budget, injected points / clean training points (at most as many as the
        source class -- or, clean-label, the target class -- has points).
    source_label, target_label : {0, 1}
        Triggered inputs of ``source_label`` should get ``target_label``.
    clean_label : bool, default=False
        Stamp target-class points, correctly labelled, instead of source-class ones.
    trigger : {"auto", "patch", "feature", "column"}, default="auto"
    trigger_value : float, default=3.0
        The value written when the trigger is a feature or a column.
    column : int or None
        The column for ``trigger="column"``.

    The returned :class:`PoisonedSet` carries ``trigger`` (a :class:`Trigger`),
    ``source_label`` and ``target_label``; :func:`core.metrics.attack_success_rate`
    scores a model with them.
    """

    name = "backdoor"
    summary = "stamp a trigger on copies of training points, labelled the target class"
    params = (
        Choice("source_label", 0, (0, 1), "the class whose triggered inputs should flip"),
        Choice("target_label", 1, (0, 1), "the label triggered inputs should get"),
        Bool("clean_label", False, "stamp target-class points, correctly labelled"),
        Choice("trigger", "auto", ("auto", "patch", "feature", "column"),
               "auto: a corner patch on digits, an extra feature elsewhere"),
        Float("trigger_value", 3.0, -1e6, 1e6, "value of the trigger feature or column"),
        Int("column", None, 0, 10_000, "the column for trigger=column", nullable=True),
    )

    def poison(self, X, y, *, model=None, random_state=None) -> PoisonedSet:
        if self.source_label == self.target_label:
            raise ValueError(f"backdoor: source_label and target_label are both "
                             f"{self.source_label}; they must differ")
        rs = check_random_state(random_state)
        trig = make_trigger(X.shape[1], trigger=self.trigger, value=self.trigger_value,
                            column=self.column)
        base = trig.pad(X)
        pool = np.flatnonzero(y == (self.target_label if self.clean_label else self.source_label))
        n = min(budget(self.rate, len(y)), pool.size)
        pick = np.sort(rs.choice(pool, size=n, replace=False)) if n else pool[:0]
        pts = trig.stamp(base[pick])
        X_p = np.vstack([base, pts])
        y_p = np.concatenate([y, np.full(n, self.target_label, dtype=y.dtype)])
        mask = np.concatenate([np.zeros(len(y), dtype=bool), np.ones(n, dtype=bool)])
        return PoisonedSet(X_p, y_p, mask, target_label=self.target_label, trigger=trig,
                           source_label=self.source_label)
