"""Base class and result type shared by every attack."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from core._validation import check_real
from core.params import Declared, Float, Registry

__all__ = ["PoisonedSet", "Attack", "budget", "RATE", "ATTACKS"]


@dataclass(frozen=True, eq=False)
class PoisonedSet:
    """A poisoned training set.

    ``X`` and ``y`` are the rows the victim will train on; ``is_poison[i]`` is
    True when row ``i`` was changed or added by the attacker. Optimizing attacks
    may add ``path``: the poison points' features after each accepted step,
    shape ``(steps + 1, n_poison, n_features)``, start first. Targeted attacks
    add ``targets`` (the points whose prediction they want to become
    ``target_label``) and ``target_index`` (their rows in the clean training
    set, when they were picked from it). Backdoors add ``trigger`` (how to stamp an
    input; if it adds a feature, ``X`` has one more column than the clean data),
    ``source_label`` and ``target_label``.
    """

    X: np.ndarray
    y: np.ndarray
    is_poison: np.ndarray
    path: np.ndarray | None = None
    targets: np.ndarray | None = None
    target_label: int | None = None
    target_index: np.ndarray | None = None
    trigger: Any = None  # backdoors: a core.attacks.backdoor.Trigger (pad / stamp)
    source_label: int | None = None  # backdoors: the class whose triggered inputs flip

    @property
    def n_poison(self) -> int:
        return int(self.is_poison.sum())


def budget(rate: float, n_train: int) -> int:
    """Number of poison points a ``rate`` buys against ``n_train`` clean points."""
    return int(round(rate * n_train))


#: the budget every attack takes first (``ExperimentConfig.poison_rate``)
RATE = Float("poison_rate", 0.1, 0.0, 1.0, "poison points per clean training point",
             high_open=True)


class Attack(Declared, ABC):
    """Base class. Subclasses set ``name``, ``summary``, declare ``params``, implement ``poison``.

    ``Attack(rate, **params)``: the budget, then the declared parameters by name
    (see :mod:`core.params`). Class attributes the UI and the CLI read besides the
    declaration: ``cost`` (when the dashboard runs it in the background) and
    ``targeted`` (it picks target points and reports their success rate) and
    ``backdoor`` (it plants a trigger: its :class:`PoisonedSet` carries ``trigger``
    and the run reports the attack success rate).
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    targeted: ClassVar[bool] = False
    backdoor: ClassVar[bool] = False

    def __init__(self, rate: float = 0.1, **params) -> None:
        self.rate = check_real(RATE.name, rate, RATE.low, RATE.high, high_open=True)
        super().__init__(**params)

    @abstractmethod
    def poison(self, X: np.ndarray, y: np.ndarray, *, model=None, random_state=None) -> PoisonedSet:
        """Return the poisoned version of the training set ``(X, y)``."""


#: every attack, in registration order: the registry the CLI and the dashboard read
ATTACKS: Registry = Registry("attack", Attack)
