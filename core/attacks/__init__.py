"""Poisoning attacks: each turns a clean training set into a poisoned one.

Every attack has one verb, ``poison(X, y, *, model, random_state)``, and
returns a :class:`PoisonedSet`: the poisoned training data and a boolean
``is_poison`` mask over its rows. The budget is ``rate`` = number of poison
points / number of clean training points, in [0, 1); an attack never uses
more than ``round(rate * n_train)`` poison points. ``ATTACKS`` is the registry
the CLI and the dashboard read.
"""

from __future__ import annotations

from core._validation import check_choice
from core.attacks.alfa import ALFA
from core.attacks.base import Attack, PoisonedSet, budget
from core.attacks.gradient import GradientPoisoning
from core.attacks.simple import Injection, LabelFlip, TargetedFlip
from core.attacks.targeted import TargetedInjection

__all__ = ["PoisonedSet", "Attack", "LabelFlip", "TargetedFlip", "Injection", "ALFA",
           "GradientPoisoning", "TargetedInjection", "ATTACKS", "make_attack", "budget"]

ATTACKS: dict[str, type[Attack]] = {
    cls.name: cls for cls in (LabelFlip, TargetedFlip, Injection, ALFA, GradientPoisoning,
                             TargetedInjection)
}


def make_attack(name: str, rate: float, **params) -> Attack:
    """Build the registered attack ``name`` with budget ``rate``."""
    check_choice("attack", name, ATTACKS)
    return ATTACKS[name](rate, **params)
