"""The attacker's copy of the victim, shared by the optimizing attacks."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC


class Surrogate:
    """The victim's classifier, refitted by the attacker in a fixed feature space.

    A victim ``Pipeline(StandardScaler, classifier)`` is split: the scaler is
    fitted once on the clean training data (the attacker's estimate of the
    victim's standardization) and the classifier is refitted on demand in that
    space. A bare ``SVC`` or ``LogisticRegression`` is used as it is.
    """

    def __init__(self, model, X_clean: np.ndarray) -> None:
        if model is None:
            raise ValueError("this attack needs the victim model (model=...)")
        if isinstance(model, Pipeline):
            pre, clf = model.steps[:-1], model.steps[-1][1]
            if len(pre) > 1 or (pre and not isinstance(pre[0][1], StandardScaler)):
                raise ValueError("the victim pipeline may only standardize before the classifier")
            self.scaler = clone(pre[0][1]).fit(X_clean) if pre else None
        else:
            clf, self.scaler = model, None
        if not isinstance(clf, (SVC, LogisticRegression)):
            raise ValueError(f"unsupported victim classifier {type(clf).__name__}; "
                             "expected SVC or LogisticRegression")
        self.clf = clf
        self.is_svm = isinstance(clf, SVC)

    @property
    def scale(self) -> np.ndarray | float:
        """dz/dx per feature (z = (x - mean) / scale)."""
        if self.scaler is None:
            return 1.0
        return self.scaler.scale_

    def refitted_scaler(self, X: np.ndarray):
        """A fresh copy of the victim's scaler fitted on ``X`` (requires a scaler)."""
        return clone(self.scaler).fit(X)

    def transform(self, X: np.ndarray) -> np.ndarray:
        return X if self.scaler is None else self.scaler.transform(X)

    def fit(self, Z: np.ndarray, y: np.ndarray):
        """A fresh fit in the attacker's space, or None when ``y`` has one class."""
        if np.unique(y).size < 2:
            return None
        return clone(self.clf).fit(Z, y)

    def losses(self, fitted, Z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per-point training loss of the victim's kind: hinge (SVM) or logistic."""
        margin = (2 * y - 1) * fitted.decision_function(Z)
        return np.maximum(0.0, 1.0 - margin) if self.is_svm else np.logaddexp(0.0, -margin)
