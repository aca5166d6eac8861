"""The two reference points: no defense, and a perfect one."""

from __future__ import annotations

import numpy as np

from core.defenses.base import Defense, Sanitized

__all__ = ["NoDefense", "Oracle"]


class NoDefense(Defense):
    """Train on everything: the poisoned baseline."""

    name = "none"
    summary = "no defense: retrain on the poisoned data as it is"
    is_baseline = True

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
    is_baseline = True
    uses_true_mask = True

    def sanitize(self, X, y, *, model=None, random_state=None, is_poison=None,
                 trusted=None) -> Sanitized:
        if is_poison is None:
            raise ValueError("the oracle defense needs the true is_poison mask")
        flagged = np.asarray(is_poison, dtype=bool)
        return self._drop(flagged, flagged.astype(float), y)
