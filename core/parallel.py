"""Where the runs of a sweep or a matrix execute: local joblib processes or a Dask cluster.

:func:`run_tasks` maps a module-level function over a list of inputs and returns
the results in input order, calling ``progress(done, total)`` as each one
finishes, wherever it ran. Every task carries its own seed, so the results are
the same numbers on one core, on several local processes or on a cluster.

Local (the default): joblib processes, ``n_jobs`` of them. On a cluster
(``scheduler="tcp://HOST:PORT"``): ``dask.distributed`` futures on that
scheduler's workers, which must be able to import PoisonLab (``core``) and the
same package versions (start them from a checkout with the same requirements).
``dask.distributed`` is only imported on that path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from joblib import Parallel, delayed

__all__ = ["run_tasks", "check_scheduler", "check_n_jobs", "CONNECT_TIMEOUT", "SCHEDULER_SCHEMES"]

T = TypeVar("T")
Progress = Callable[[int, int], None]

#: seconds to wait for a Dask scheduler to answer before giving up
CONNECT_TIMEOUT = 10.0

#: address schemes dask.distributed can connect to (``HOST:PORT`` alone means ``tcp://``)
SCHEDULER_SCHEMES: tuple[str, ...] = ("tcp", "tls", "ws", "wss", "ucx", "inproc")

_HOST = re.compile(r"^[A-Za-z0-9._-]+$")


def check_n_jobs(n_jobs: object) -> int:
    if not isinstance(n_jobs, int) or isinstance(n_jobs, bool) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs={n_jobs!r}; expected a positive integer or -1")
    return n_jobs


def check_scheduler(scheduler: object) -> str | None:
    """A Dask scheduler address as ``scheme://host:port``, or None for local processes.

    Accepts ``tcp://HOST:PORT`` (also ``tls``, ``ws``, ``wss``, ``ucx``), bare
    ``HOST:PORT`` (taken as tcp), IPv6 hosts in brackets, and ``inproc://...``.
    Raises ``ValueError`` naming ``scheduler`` for anything else; nothing is contacted.
    """
    if scheduler is None:
        return None
    allowed = "an address like tcp://HOST:PORT"
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise ValueError(f"scheduler={scheduler!r} is not an address; expected {allowed}")
    text = scheduler.strip()
    if "://" not in text:
        text = f"tcp://{text}"
    scheme = text.split("://", 1)[0].lower()
    if scheme not in SCHEDULER_SCHEMES:
        raise ValueError(f"scheduler={scheduler!r} has scheme {scheme!r}; expected one of: "
                         f"{', '.join(SCHEDULER_SCHEMES)} ({allowed})")
    if scheme == "inproc":
        return text
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError:  # e.g. a port that is not a number, or out of range
        host = port = None
    if (not host or port is None or port == 0 or parts.path not in ("", "/") or parts.query
            or parts.fragment or parts.username or parts.password
            or not (_HOST.match(host) or ":" in host)):
        raise ValueError(f"scheduler={scheduler!r} is not {allowed} (a host and a port in "
                         f"1-65535)")
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def _indexed(func: Callable[[Any], T], index: int, item: Any) -> tuple[int, T]:
    return index, func(item)


def run_tasks(
    func: Callable[[Any], T],
    items: Sequence[Any],
    *,
    n_jobs: int = 1,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> list[T]:
    """``[func(item) for item in items]``, in parallel, in input order.

    Parameters
    ----------
    func : callable
        A module-level function (it is pickled by reference to reach the workers).
    items : sequence
        One task per item.
    n_jobs : int, default=1
        Local joblib workers (-1 = all cores); ignored when ``scheduler`` is given.
    scheduler : str, optional
        Address of a running Dask scheduler (see :func:`check_scheduler`); the
        tasks then run on its workers. ``None``: local joblib processes.
    progress : callable(done, total), optional
        Called after each finished task, in this process.

    Raises
    ------
    ValueError
        For a bad ``n_jobs`` or a malformed ``scheduler``.
    ConnectionError
        When no scheduler answers at ``scheduler`` within ``CONNECT_TIMEOUT`` seconds.
    """
    n_jobs = check_n_jobs(n_jobs)
    scheduler = check_scheduler(scheduler)
    items = list(items)
    total = len(items)
    results: list[Any] = [None] * total
    report = progress or (lambda done, total: None)
    if scheduler is None:
        runs = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
            delayed(_indexed)(func, i, item) for i, item in enumerate(items))
        for done, (i, result) in enumerate(runs, start=1):
            results[i] = result
            report(done, total)
        return results
    for done, (i, result) in enumerate(_on_cluster(func, items, scheduler), start=1):
        results[i] = result
        report(done, total)
    return results


def _on_cluster(func: Callable[[Any], T], items: list, scheduler: str):
    """Yield ``(index, func(items[index]))`` as the cluster finishes them."""
    from distributed import Client, as_completed  # only here: the local path never pays for it

    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except OSError as exc:  # distributed raises OSError("Timed out trying to connect ...")
        raise ConnectionError(f"scheduler={scheduler!r} did not answer within "
                              f"{CONNECT_TIMEOUT:g} s; is a Dask scheduler running there?"
                              ) from exc
    with client:  # closing the client releases (and so cancels) whatever is still pending
        futures = client.map(func, items, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for future in as_completed(futures, loop=client.loop):  # not the default client
            yield index[future.key], future.result()
