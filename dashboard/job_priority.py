"""Background jobs yield the CPU to viewers' interactive requests.

Every background job (experiment, sweep, matrix; with either job manager) calls
:func:`lower_job_priority` before its callback (``dashboard.app.LowPriorityJobs``). A
sweep or an optimizing attack runs for seconds to minutes behind a progress bar, so it
can wait; a control change should not wait behind it (what that buys under load:
``docs/benchmarks.md``).

``POISONLAB_JOB_NICE`` (default 19, the lowest priority; 0 leaves it alone). On Linux a
nice-19 process gets about 1.5% of a core that a nice-0 one also wants, and all of an idle
core, so jobs still use every cycle the viewers leave.
"""

from __future__ import annotations

import os
import sys

__all__ = ["JOB_NICE", "job_niceness", "lower_job_priority"]

JOB_NICE = 19


def job_niceness() -> int:
    """The niceness jobs get: ``POISONLAB_JOB_NICE`` in 0..19, default :data:`JOB_NICE`."""
    raw = os.environ.get("POISONLAB_JOB_NICE", str(JOB_NICE))
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= 19:
        raise ValueError(f"POISONLAB_JOB_NICE={raw!r} is not an integer 0..19")
    return value


def lower_job_priority() -> int:
    """Raise this job process's niceness to :func:`job_niceness` (never lower it); returns it.

    Only in a child process (a Dash job, a Celery pool worker): a main process (the web
    server, a test run, the CLI) calling a job function in-process keeps its priority.
    The job's own workers (joblib) inherit it.
    """
    current = os.nice(0)
    if all(sys.modules[m].current_process().name == "MainProcess"
           for m in ("multiprocessing", "multiprocess", "billiard") if m in sys.modules):
        return current
    wanted = job_niceness()
    return os.nice(wanted - current) if wanted > current else current
