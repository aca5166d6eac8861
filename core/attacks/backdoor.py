"""Backdoors: poison that teaches the model to give the target label to inputs with a trigger."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_random_state

from core.attacks.base import ATTACKS, Attack, PoisonedSet, budget
from core.models import fit_clone
from core.params import Choice, Float, Int

__all__ = ["Backdoor", "CleanLabelBackdoor", "Trigger", "make_trigger", "PATCH_PIXELS",
           "PATCH_VALUE", "TRIGGER_KINDS"]

#: the digits trigger: the 2x2 top-right corner of the 8x8 image (pixel indices), dark in both
#: 5s and 9s (the bottom-right corner is where a 9's stroke ends: there a clean model
#: already reads a bright patch as a 9)
PATCH_PIXELS: tuple[int, ...] = (6, 7, 14, 15)
#: the value of a bright pixel in scikit-learn's digits
PATCH_VALUE = 16.0
#: what ``trigger`` may be: ``auto`` picks ``patch`` on 8x8 images, ``feature`` elsewhere
TRIGGER_KINDS: tuple[str, ...] = ("auto", "feature", "column")


@dataclass(frozen=True)
class Trigger:
    """Where the trigger goes and what it writes.

    ``stamp(X)`` sets columns ``columns`` of every row to ``value``. When
    ``added`` is True the trigger is an extra feature the real data does not
    have: ``pad(X)`` appends that column as zeros (trigger absent), so the clean
    model, the test set, the trusted sample and the decision grid live in the
    same space as the poisoned training set; otherwise ``pad`` is the identity.
    ``kind`` is ``"patch"`` (digits pixels), ``"feature"`` (an added column) or
    ``"column"`` (an existing column, e.g. of a CSV).
    """

    kind: str
    columns: tuple[int, ...]
    value: float
    added: bool

    def pad(self, X: np.ndarray) -> np.ndarray:
        """``X`` in the poisoned set's feature space, trigger absent (a float copy)."""
        X = np.asarray(X, dtype=float)
        return np.hstack([X, np.zeros((len(X), 1))]) if self.added else X.copy()

    def stamp(self, X: np.ndarray) -> np.ndarray:
        """``X`` (already padded) with the trigger on every row; a copy."""
        out = np.array(X, dtype=float, copy=True)
        out[:, list(self.columns)] = self.value
        return out

    def present(self, X: np.ndarray) -> np.ndarray:
        """Boolean mask: the rows of (padded) ``X`` that carry the trigger."""
        X = np.asarray(X, dtype=float)
        return np.all(X[:, list(self.columns)] == self.value, axis=1)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "columns": list(self.columns), "value": self.value,
                "added": self.added}


def make_trigger(n_features: int, *, trigger: str = "auto", value: float = 1.0,
                 column: int | None = None) -> Trigger:
    """The trigger for data with ``n_features`` columns (``trigger="patch"``: 8x8 images only).

    ``"auto"``: ``"patch"`` on 8x8 images (64 features: a bright 2x2 patch,
    pixels ``PATCH_PIXELS`` set to ``PATCH_VALUE``), else ``"feature"`` (one
    added column, 0 on real data, ``value`` when present). ``"column"`` writes
    ``value`` into the existing ``column``.
    """
    if trigger not in (*TRIGGER_KINDS, "patch"):
        raise ValueError(f"trigger={trigger!r} is not one of {', '.join(TRIGGER_KINDS)}")
    if trigger == "auto":
        trigger = "patch" if n_features == 64 else "feature"
    if trigger == "patch":
        if n_features != 64:
            raise ValueError(f"trigger='patch' needs 8x8 images (64 features), got {n_features}")
        return Trigger("patch", PATCH_PIXELS, PATCH_VALUE, False)
    if trigger == "feature":
        return Trigger("feature", (n_features,), float(value), True)
    column = n_features - 1 if column is None else column
    if not 0 <= column < n_features:
        raise ValueError(f"trigger='column' needs column in [0, {n_features - 1}], "
                         f"got {column!r}")
    return Trigger("column", (int(column),), float(value), False)


class _TriggerAttack(Attack):
    """Shared machinery of the backdoors: the trigger, the labels, the stamped copies."""

    backdoor = True
    params = (
        Choice("target_label", 1, (0, 1), "the label triggered inputs of the other class "
               "should get"),
        Choice("trigger", "auto", TRIGGER_KINDS,
               "auto: a corner patch on digits, an extra feature elsewhere"),
        Float("trigger_value", 1.0, -1e6, 1e6,
              "value of the trigger feature (or column) when present"),
        Int("column", None, 0, 100_000, "the column for trigger=column (None: the last)",
            nullable=True),
    )

    def _pick(self, X: np.ndarray, y: np.ndarray, n: int, model, rs) -> np.ndarray:
        raise NotImplementedError

    def _move(self, base: np.ndarray, y: np.ndarray, pick: np.ndarray) -> np.ndarray:
        return base[pick]

    @property
    def source_label(self) -> int:
        """The class whose triggered inputs should get ``target_label``: the other one."""
        return 1 - self.target_label

    def poison(self, X, y, *, model=None, random_state=None) -> PoisonedSet:
        rs = check_random_state(random_state)
        X = np.asarray(X, dtype=float)
        trig = make_trigger(X.shape[1], trigger=self.trigger, value=self.trigger_value,
                            column=self.column)
        base = trig.pad(X)
        n = budget(self.rate, len(y))
        pick = self._pick(X, y, n, model, rs)
        pts = trig.stamp(self._move(base, y, pick))
        X_p = np.vstack([base, pts])
        y_p = np.concatenate([y, np.full(len(pick), self.target_label, dtype=y.dtype)])
        mask = np.concatenate([np.zeros(len(y), dtype=bool), np.ones(len(pick), dtype=bool)])
        return PoisonedSet(X_p, y_p, mask, target_label=self.target_label, trigger=trig,
                           source_label=self.source_label)


_TRIGGER_DOC = """
    The trigger (:func:`make_trigger`): on 8x8 digits a bright 2x2 patch in the
    top-right corner; elsewhere an extra feature, 0 on real data and
    ``trigger_value`` when present (the poisoned set then has one more column,
    and the run pads the clean, test and trusted data with zeros); with
    ``trigger="column"`` it writes ``trigger_value`` into an existing ``column``
    (a CSV field the user picks). The returned :class:`PoisonedSet` carries
    ``trigger`` (a :class:`Trigger`), ``source_label`` and ``target_label``;
    :func:`core.metrics.attack_success_rate` scores a model with them.
"""


@ATTACKS.register
class Backdoor(_TriggerAttack):
    """Plant a trigger: stamped copies of source-class points, labelled ``target_label``.

    The model stays accurate on clean inputs but gives ``target_label`` to
    inputs of ``source_label`` that carry the trigger. Gu, Dolan-Gavitt & Garg,
    "BadNets: Identifying Vulnerabilities in the Machine Learning Model Supply
    Chain" (2017), adapted to tabular data and convex models: the poison are
    copies of random source-class training points with the trigger stamped and
    the label switched (dirty labels: a reviewer reading a poison row sees a
    source-class record labelled as the target class).

    Threat model: the attacker can add up to ``round(rate * n_train)`` points to
    the training set, choosing their features and labels, and can stamp the
    trigger on inputs at test time; it needs no model and no knowledge of it.
    {trigger}
    Parameters
    ----------
    rate : float
        Budget, injected points / clean training points (at most as many as the
        source class has points).
    target_label : {{0, 1}}, default=1
        Triggered inputs of the other class (``source_label``) should get it.
    trigger : {{"auto", "feature", "column"}}, default="auto"
        ``"auto"``: the patch on 8x8 images, an added feature elsewhere.
    trigger_value : float, default=1.0
        The value written when the trigger is a feature or a column (0 makes an
        added feature indistinguishable from absent). A standardizing victim sees
        the same poisoned training set for every nonzero value; only models that
        never saw the trigger (the clean one) respond to its size.
    column : int or None
        The column for ``trigger="column"`` (None: the last one).
    """

    name = "backdoor"
    summary = "stamp a trigger on copies of source-class points, labelled the target class"
    __doc__ = __doc__.format(trigger=_TRIGGER_DOC)

    def _pick(self, X, y, n, model, rs):
        pool = np.flatnonzero(y == self.source_label)
        n = min(n, pool.size)
        return np.sort(rs.choice(pool, size=n, replace=False)) if n else pool[:0]


@ATTACKS.register
class CleanLabelBackdoor(_TriggerAttack):
    """Plant a trigger with correct labels: stamped copies of hard target-class points.

    The idea of Turner, Tsipras & Madry, "Label-Consistent Backdoor Attacks"
    (2019): every poison point is a target-class point labelled ``target_label``
    -- no label is wrong, so defenses that look for labels at odds with the
    features have nothing to find. A point the model already classifies with a
    wide margin teaches it nothing, so (as Turner et al. make their images hard
    to classify) the poison are the target-class points the victim finds
    hardest: with ``selection="hardest"`` those of smallest margin under the
    victim fitted on the clean data, optionally moved ``interpolation`` of the
    way towards the source class's mean (the analogue of the paper's
    interpolation towards another class; 0 keeps real points). The trigger is
    then the cheapest way for the model to fit them, and it learns "trigger ->
    target".

    Threat model: the attacker can add up to ``round(rate * n_train)`` points
    with correct labels and can stamp the trigger at test time; with
    ``selection="hardest"`` it also knows the training data and the model class
    with its hyperparameters (it fits the clean model itself), with
    ``"random"`` nothing about the model.
    {trigger}
    Parameters
    ----------
    rate : float
        Budget, injected points / clean training points (at most as many as the
        target class has points).
    target_label : {{0, 1}}, default=1
        Triggered inputs of the other class (``source_label``) should get it.
    selection : {{"hardest", "random"}}, default="hardest"
        Which target-class points to copy.
    interpolation : float in [0, 0.5], default=0.5
        Share of the way each copy moves towards the source class's mean before
        the trigger is stamped (at most half-way, so it stays nearer its own class).
    trigger, trigger_value, column
        As for :class:`Backdoor`.
    """

    name = "backdoor_clean_label"
    summary = ("stamp a trigger on copies of hard target-class points, correctly labelled "
               "(Turner 2019)")
    __doc__ = __doc__.format(trigger=_TRIGGER_DOC)
    params = _TriggerAttack.params + (
        Choice("selection", "hardest", ("hardest", "random"),
               "hardest: the target-class points of smallest clean-model margin"),
        Float("interpolation", 0.5, 0.0, 0.5,
              "share of the way each copy moves towards the source class's mean", step=0.05),
    )

    def _pick(self, X, y, n, model, rs):
        pool = np.flatnonzero(y == self.target_label)
        n = min(n, pool.size)
        if n == 0:
            return pool[:0]
        if self.selection == "random":
            return np.sort(rs.choice(pool, size=n, replace=False))
        if model is None:
            raise ValueError(f"{self.name} with selection='hardest' needs the victim model "
                             "(model=...) to find the hardest points")
        clean = fit_clone(model, X, y)
        # signed margin towards the target class: smallest = hardest (misclassified first)
        sign = 1.0 if self.target_label == 1 else -1.0
        margin = sign * clean.decision_function(X[pool])
        return np.sort(pool[np.argsort(margin, kind="stable")[:n]])

    def _move(self, base, y, pick):
        pts = base[pick]
        if self.interpolation > 0 and np.any(y == self.source_label):
            mu = base[y == self.source_label].mean(axis=0)
            pts = pts + self.interpolation * (mu - pts)
        return pts
