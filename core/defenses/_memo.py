"""A small per-process memo for the expensive, deterministic steps of defenses.

A defense's costly part often depends on less than its whole configuration:
an Isolation Forest's scores depend on the features and the seed, not on the
contamination that sets the cut, nor on the victim model; the verdicts of
``trusted_relabel`` are those of ``trusted_reject``. Keyed by a digest of
exactly those inputs, a memo lets the other settings change for free (a
dashboard user moving the contamination slider, a matrix cell running both
trusted defenses). Values are tuples of arrays, handed out as copies; only
integer seeds are memoized (``None`` or a ``RandomState`` draws afresh).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

__all__ = ["Memo", "digest", "clear_memos"]

_ALL: list[Memo] = []


class Memo:
    """At most ``size`` values, least recently used evicted first; thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[bytes, tuple[np.ndarray, ...]] = OrderedDict()
        self._lock = threading.Lock()
        _ALL.append(self)

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def get_or_compute(self, key: bytes | None,
                       compute: Callable[[], tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
        """``compute()``, or a copy of what it returned for the same ``key`` before."""
        if key is None:
            return compute()
        with self._lock:
            hit = self._data.get(key)
            if hit is not None:
                self._data.move_to_end(key)
        if hit is None:
            hit = tuple(compute())
            with self._lock:
                self._data[key] = hit
                while len(self._data) > self.size:
                    self._data.popitem(last=False)
        return tuple(a.copy() for a in hit)


def digest(random_state, *parts) -> bytes | None:
    """A key for ``parts`` (arrays by dtype, shape and bytes; others by ``repr``), or
    None when ``random_state`` is not an integer seed."""
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
        return None
    h = hashlib.blake2b(repr(int(random_state)).encode(), digest_size=20)
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(f"|{part.dtype}{part.shape}|".encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(f"|{part!r}|".encode())
    return h.digest()


def clear_memos() -> None:
    """Forget every memoized value (for benchmarks that time a cold run)."""
    for memo in _ALL:
        memo.clear()
