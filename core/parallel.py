"""Where the runs of a sweep or a matrix execute: local joblib processes or a Dask cluster.

:func:`run_tasks` maps a module-level function over a list of inputs and returns
the results in input order, calling ``progress(done, total)`` as each one
finishes, wherever it ran. Every task carries its own seed, so the results are
the same numbers on one core, on several local processes or on a cluster.

Local (the default): joblib processes, ``n_jobs`` of them. On a cluster
(``scheduler="tcp://HOST:PORT"``): ``dask.distributed`` futures on that
scheduler's workers. The scheduler and the workers must both be able to import
PoisonLab (``core``) with the same package versions (start them from a checkout
with the same requirements): Dask unpickles the tasks on both. That is checked
before any task is sent, so a cluster that cannot run them is a quick
:class:`ClusterError` rather than a job that never finishes.
``dask.distributed`` is only imported on that path.
"""

from __future__ import annotations

import pkgutil
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from joblib import Parallel, delayed

__all__ = ["run_tasks", "check_scheduler", "check_n_jobs", "ClusterError", "CONNECT_TIMEOUT",
           "SCHEDULER_SCHEMES"]

T = TypeVar("T")
Progress = Callable[[int, int], None]

#: seconds to wait for a Dask scheduler to answer before giving up
CONNECT_TIMEOUT = 10.0

#: address schemes dask.distributed can connect to (``HOST:PORT`` alone means ``tcp://``)
SCHEDULER_SCHEMES: tuple[str, ...] = ("tcp", "tls", "ws", "wss", "ucx", "inproc")

_HOST = re.compile(r"^[A-Za-z0-9._-]+$")
#: what the scheduler and every worker must be able to import (``pkgutil.resolve_name`` form)
_PROBE = "core.parallel:__name__"


class ClusterError(ConnectionError):
    """A Dask scheduler answered, but its cluster cannot run PoisonLab's tasks.

    No worker joined within ``CONNECT_TIMEOUT``, or the scheduler or a worker
    cannot import ``core``. A ``ConnectionError`` (so an ``OSError``), like an
    address where nobody answers: the cluster at that address is not usable.
    """


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
        When no scheduler answers at ``scheduler`` within ``CONNECT_TIMEOUT`` seconds,
        or (:class:`ClusterError`) when its cluster cannot run the tasks.
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
        _check_cluster(client, scheduler)
        futures = client.map(func, items, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for future in as_completed(futures, loop=client.loop):  # not the default client
            yield index[future.key], future.result()


def _check_cluster(client, scheduler: str) -> None:
    """Fail fast unless the cluster has a worker and both sides can import ``core``.

    A worker that cannot unpickle a task dies and the task waits forever, so this
    is checked with a stdlib function (``pkgutil.resolve_name``, importable everywhere).
    """
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
    except TimeoutError:
        raise ClusterError(f"scheduler={scheduler!r} has no workers (none joined within "
                           f"{CONNECT_TIMEOUT:g} s)") from None
    for where, run in (("the scheduler", client.run_on_scheduler), ("a worker", client.run)):
        try:
            run(pkgutil.resolve_name, _PROBE)
        except ImportError as exc:
            raise ClusterError(f"scheduler={scheduler!r}: {where} cannot import PoisonLab "
                               f"({exc}); start the scheduler and the workers where "
                               "`import core` works, with the same requirements") from exc
