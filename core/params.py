"""Parameters declared once, on the class that uses them.

Every attack, defense and model lists its tunable parameters as a tuple of
:class:`Param` in the class attribute ``params`` -- the way scikit-learn
estimators declare ``_parameter_constraints``. From that one declaration come:

- validation (:meth:`Param.check`: a ``ValueError`` naming the value and the allowed range),
- the constructor (:class:`Declared` sets every declared parameter, refusing unknown ones),
- ``get_params()``, the config's ``attack_params`` / ``defense_params`` checks,
- the CLI's ``--attack-param NAME=VALUE`` / ``--defense-param NAME=VALUE`` parsing
  (:meth:`Param.parse`), ``python -m core list --json`` (:meth:`Param.describe`),
- the dashboard's controls for the selected algorithm and its URL keys.

A parameter is one of four kinds: ``int`` and ``float`` (a closed or half-open
range, and optionally a few words such as ``"auto"``), ``choice`` (one of a
list) and ``bool``. ``nullable`` parameters also take ``None`` ("derived from
the others", e.g. a count whose default depends on another switch).

``Cost`` is the class's hint of what makes it slow enough for a background job.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from core._validation import check_choice, check_int, check_real, shown

__all__ = ["Param", "Int", "Float", "Choice", "Bool", "Declared", "Cost", "carry_params",
           "parse_assignments"]

_KINDS = ("int", "float", "choice", "bool")
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


@dataclass(frozen=True)
class Param:
    """One declared parameter: its kind, default, range or choices, and a one-line help.

    ``step`` is a hint for sliders (the dashboard); ``words`` are strings a numeric
    parameter also accepts (``contamination="auto"``).
    """

    name: str
    kind: str
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[Any, ...] = ()
    words: tuple[str, ...] = ()
    nullable: bool = False
    step: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"Param {self.name!r}: kind={self.kind!r} is not one of {_KINDS}")
        if not self.name.isidentifier():
            raise ValueError(f"Param name {self.name!r} is not an identifier")
        if self.kind in ("int", "float") and (self.low is None or self.high is None):
            raise ValueError(f"Param {self.name!r}: a numeric parameter needs low and high")
        if self.kind == "choice" and not self.choices:
            raise ValueError(f"Param {self.name!r}: a choice needs choices")
        if not (self.nullable and self.default is None):
            self.check(self.default)  # a declaration with a bad default fails at import

    # -- what is allowed ---------------------------------------------------------------------
    @property
    def allowed(self) -> str:
        """The allowed values in words: ``an integer in [1, 100]``, ``one of: drop, relabel``."""
        if self.kind == "int":
            text = f"an integer in [{int(self.low)}, {int(self.high)}]"
        elif self.kind == "float":
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            text = f"a number in {left}{self.low:g}, {self.high:g}{right}"
        elif self.kind == "bool":
            text = "true or false"
        else:
            text = "one of: " + ", ".join(str(c) for c in self.choices)
        extra = [*(repr(w) for w in self.words), *(["None"] if self.nullable else [])]
        return text + (f" (or {', '.join(extra)})" if extra else "")

    def check(self, value: Any) -> Any:
        """``value`` converted to the parameter's type, or ``ValueError`` naming the range."""
        if value is None and self.nullable:
            return None
        if isinstance(value, str) and value in self.words:
            return value
        if self.kind == "int":
            try:
                return check_int(self.name, value, int(self.low), int(self.high))
            except ValueError:
                if self.words:
                    raise ValueError(f"{self.name}={shown(value)} is not {self.allowed}") from None
                raise
        if self.kind == "float":
            if isinstance(value, str) or value is None:
                raise ValueError(f"{self.name}={shown(value)} is not {self.allowed}")
            return check_real(self.name, value, self.low, self.high,
                              low_open=self.low_open, high_open=self.high_open)
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{self.name}={shown(value)} is not True or False")
            return value
        for option in self.choices:  # choice: exact match, numbers by value (1 == 1.0)
            if value == option and type(value) is not bool:
                return option
        raise ValueError(f"{self.name}={shown(value)} is not {self.allowed}")

    # -- text (CLI flags, URL values) ---------------------------------------------------------
    def parse(self, text: str) -> Any:
        """The value a command-line or URL string stands for, checked."""
        if not isinstance(text, str):
            return self.check(text)
        raw = text.strip()
        if self.nullable and raw.lower() in ("none", "null", ""):
            return None
        if raw in self.words:
            return raw
        if self.kind == "bool":
            low = raw.lower()
            if low in _TRUE or low in _FALSE:
                return low in _TRUE
            raise ValueError(f"{self.name}={raw!r} is not true or false")
        if self.kind in ("int", "float"):
            try:
                number = float(raw)
            except ValueError:
                raise ValueError(f"{self.name}={raw!r} is not {self.allowed}") from None
            if self.kind == "int" and math.isfinite(number) and number.is_integer():
                return self.check(int(number))
            return self.check(number)
        for option in self.choices:  # choice: by its text
            if raw == str(option):
                return option
        if all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in self.choices):
            try:  # numeric choices: say which number was refused
                number = float(raw)
            except ValueError:
                pass
            else:
                return self.check(int(number) if number.is_integer() else number)
        raise ValueError(f"{self.name}={raw!r} is not {self.allowed}")

    def format(self, value: Any) -> str:
        """``value`` as text that :meth:`parse` reads back to the same value."""
        if value is None:
            return "none"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return repr(value)
        return str(value)

    def describe(self) -> dict[str, Any]:
        """JSON-ready: what ``python -m core list --json`` prints for this parameter."""
        out: dict[str, Any] = {"type": self.kind, "default": self.default, "help": self.help,
                               "allowed": self.allowed}
        if self.kind in ("int", "float"):
            out.update(low=self.low, high=self.high)
            if self.low_open or self.high_open:
                out.update(low_open=self.low_open, high_open=self.high_open)
        if self.kind == "choice":
            out["choices"] = list(self.choices)
        if self.words:
            out["words"] = list(self.words)
        if self.nullable:
            out["nullable"] = True
        return out


def Int(name: str, default: int | None, low: int, high: int, help: str, *,
        nullable: bool = False, words: tuple[str, ...] = ()) -> Param:  # noqa: N802
    """An integer parameter in ``[low, high]``."""
    return Param(name, "int", default, help, low=low, high=high, nullable=nullable, words=words,
                 step=1)


def Float(name: str, default: float | str | None, low: float, high: float, help: str, *,
          low_open: bool = False, high_open: bool = False, words: tuple[str, ...] = (),
          nullable: bool = False, step: float | None = None) -> Param:  # noqa: N802
    """A real parameter in a (half-)open or closed range."""
    return Param(name, "float", default, help, low=low, high=high, low_open=low_open,
                 high_open=high_open, words=words, nullable=nullable, step=step)


def Choice(name: str, default: Any, choices: tuple | list, help: str) -> Param:  # noqa: N802
    """One of ``choices``."""
    return Param(name, "choice", default, help, choices=tuple(choices))


def Bool(name: str, default: bool, help: str) -> Param:  # noqa: N802
    """True or False."""
    return Param(name, "bool", default, help)


@dataclass(frozen=True)
class Cost:
    """What makes an algorithm slow enough that the dashboard runs it as a background job.

    ``always``: every run (an optimizing attack). ``above``: more than this many
    points; ``counts`` says which -- ``"train"`` the clean training points, or
    ``"seen"`` every point the algorithm works on (the poisoned training set with
    injected points, plus the trusted sample), for dense O(n^3) solvers.
    """

    always: bool = False
    above: int | None = None
    counts: str = "train"
    #: rough seconds it takes on 1,000 counted points (2-core reference machine, measured by
    #: ``tests/bench_sweep.py --calibrate``), and how that grows: ``seconds * (n / 1000) **
    #: power``; 0 = negligible next to the victim's fits. For the CLI's up-front warning
    #: (:func:`core.experiment.expected_seconds`), not a promise.
    seconds: float = 0.0
    power: float = 1.0

    def _count(self, n_train: float, n_seen: float) -> float:
        return n_seen if self.counts == "seen" else n_train

    def slow(self, n_train: float, n_seen: float) -> bool:
        if self.always:
            return True
        if self.above is None:
            return False
        return self._count(n_train, n_seen) > self.above

    def expected_seconds(self, n_train: float, n_seen: float) -> float:
        """The rough time of one call on this many points (``seconds`` scaled by ``power``)."""
        return self.seconds * (self._count(n_train, n_seen) / 1000) ** self.power


class Declared:
    """Mixin: a class whose parameters are declared in ``params`` and set by the constructor.

    ``Declared(**values)`` checks each value against its declaration, fills the
    defaults and sets them as attributes; an unknown name is refused with the
    declared ones listed. ``get_params()`` returns them (scikit-learn's verb).
    """

    name: ClassVar[str]
    params: ClassVar[tuple[Param, ...]] = ()
    cost: ClassVar[Cost] = Cost()

    def __init__(self, **values: Any) -> None:
        for key, value in self.check_params(values).items():
            setattr(self, key, value)

    @classmethod
    def param_specs(cls) -> dict[str, Param]:
        return {p.name: p for p in cls.params}

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {p.name: p.default for p in cls.params}

    @classmethod
    def check_params(cls, values: Mapping[str, Any] | None) -> dict[str, Any]:
        """Every declared parameter, checked: ``values`` over the defaults."""
        values = dict(values or {})
        if not all(isinstance(k, str) for k in values):
            raise ValueError(f"{cls.name}: parameter names must be strings")
        specs = cls.param_specs()
        unknown = sorted(set(values) - set(specs))
        if unknown:
            allowed = ", ".join(specs) if specs else "none"
            raise ValueError(f"{cls.name} has no parameter {', '.join(map(repr, unknown))}; "
                             f"its parameters: {allowed}")
        return {name: spec.check(values[name]) if name in values else spec.default
                for name, spec in specs.items()}

    @classmethod
    def parse_params(cls, texts: Mapping[str, str]) -> dict[str, Any]:
        """The values given as text (CLI flags, URL values), parsed and checked (only those)."""
        specs = cls.param_specs()
        unknown = sorted(set(texts) - set(specs))
        if unknown:
            cls.check_params(dict.fromkeys(unknown))  # raises, naming the allowed ones
        return {k: specs[k].parse(v) for k, v in texts.items()}

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """JSON-ready summary and parameters (``python -m core list --json``)."""
        return {"summary": getattr(cls, "summary", ""),
                "params": {p.name: p.describe() for p in cls.params}}

    def get_params(self) -> dict[str, Any]:
        return {p.name: getattr(self, p.name) for p in self.params}

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.get_params().items()
                   if v != self.param_specs()[k].default}
        inner = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        return f"{type(self).__name__}({inner})"


def carry_params(old: type[Declared] | None, values: Mapping[str, Any] | None,
                 new: type[Declared]) -> dict[str, Any]:
    """The parameters of ``new`` when switching to it from ``old`` with ``values``.

    A value the user changed from ``old``'s default carries over when ``new``
    declares a parameter of the same name that accepts it (a contamination set on
    one outlier detector applies to the next); everything else takes ``new``'s
    default. Used by the matrix (each defense cell from the config's defense) and
    by the dashboard (switching algorithm keeps what still applies).
    """
    specs = new.param_specs()
    old_defaults = old.defaults() if old is not None else {}
    out: dict[str, Any] = {}
    for key, value in (values or {}).items():
        if key not in specs or (key in old_defaults and value == old_defaults[key]
                                and type(value) is type(old_defaults[key])):
            continue
        try:
            out[key] = specs[key].check(value)
        except ValueError:
            continue
    return new.check_params(out)


def parse_assignments(items: list[str] | None, flag: str) -> dict[str, str]:
    """``["k=5", "mode=drop"]`` -> ``{"k": "5", "mode": "drop"}``; a bad item -> ``ValueError``."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"{flag} {item!r} is not NAME=VALUE (e.g. {flag} k=5)")
        if key in out:
            raise ValueError(f"{flag} {key} is given twice")
        out[key] = value
    return out



class Registry(dict):
    """Name -> class, in registration order: the registry the CLI and the dashboard read.

    ``register`` (usable as a class decorator) checks the class declares a unique
    ``name`` and a valid ``params`` tuple; ``registered(cls)`` registers it for the
    length of a ``with`` block (tests, notebooks).
    """

    def __init__(self, kind: str, base: type, classes=()) -> None:
        super().__init__()
        self.kind, self.base = kind, base
        for cls in classes:
            self.register(cls)

    def register(self, cls: type) -> type:
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise TypeError(f"a {self.kind} must subclass {self.base.__name__}, not {cls!r}")
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"{cls.__name__}.name={name!r} is not an identifier")
        if name in self and self[name] is not cls:
            raise ValueError(f"a {self.kind} named {name!r} is already registered")
        if not all(isinstance(p, Param) for p in cls.params):
            raise TypeError(f"{cls.__name__}.params must be a tuple of Param")
        names = [p.name for p in cls.params]
        if len(set(names)) != len(names):
            raise ValueError(f"{cls.__name__}.params declares a name twice: {names}")
        self[name] = cls
        return cls

    def unregister(self, name: str) -> None:
        self.pop(name, None)

    def registered(self, cls: type):
        """Context manager: ``cls`` is registered inside the block only."""
        registry = self

        class _Scope:
            def __enter__(self_inner):
                registry.register(cls)
                return cls

            def __exit__(self_inner, *exc):
                registry.unregister(cls.name)
                return False

        return _Scope()

    def get_class(self, name: Any) -> type:
        """The class registered as ``name``, or ``ValueError`` listing the names."""
        return self[check_choice(self.kind, name, self)]


def discover(package: str, path) -> list[str]:
    """Import every public module of ``package`` not imported yet (sorted by name).

    How an attack or defense in a new file registers itself: its module decorates
    the class with the registry's ``register`` and this imports it. Returns the
    modules imported.
    """
    import importlib
    import pkgutil
    import sys

    found = []
    for info in sorted(pkgutil.iter_modules(path), key=lambda m: m.name):
        full = f"{package}.{info.name}"
        if info.name.startswith("_") or full in sys.modules:
            continue
        importlib.import_module(full)
        found.append(full)
    return found
