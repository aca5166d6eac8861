"""Poisoning attacks: each turns a clean training set into a poisoned one.

Every attack has one verb, ``poison(X, y, *, model, random_state)``, and
returns a :class:`PoisonedSet`: the poisoned training data and a boolean
``is_poison`` mask over its rows. The budget is ``rate`` = number of poison
points / number of clean training points, in [0, 1); an attack never uses
more than ``round(rate * n_train)`` poison points. ``ATTACKS`` is the registry
the CLI and the dashboard read.

Each attack declares its parameters once, in ``params`` (:mod:`core.params`);
a new attack is one module in this package whose class is decorated with
``@ATTACKS.register`` (from ``core.attacks.base``): it is imported and
registered when the package is (see ``docs/extending.md``).
"""

from __future__ import annotations

from core.attacks.alfa import ALFA
from core.attacks.base import ATTACKS, Attack, PoisonedSet, budget
from core.attacks.gradient import GradientPoisoning
from core.attacks.simple import Injection, LabelFlip, TargetedFlip
from core.attacks.targeted import TargetedInjection
from core.params import discover

__all__ = ["PoisonedSet", "Attack", "LabelFlip", "TargetedFlip", "Injection", "ALFA",
           "GradientPoisoning", "TargetedInjection", "ATTACKS", "make_attack", "budget"]

for _cls in (LabelFlip, TargetedFlip, Injection, ALFA, GradientPoisoning, TargetedInjection):
    ATTACKS.register(_cls)
#: any other module of this package registers its attack itself (``@ATTACKS.register``)
discover(__name__, __path__)


def make_attack(name: str, rate: float, **params) -> Attack:
    """Build the registered attack ``name`` with budget ``rate`` and its declared parameters."""
    return ATTACKS.get_class(name)(rate, **params)
