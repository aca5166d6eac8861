"""Shared on-disk caches (every gunicorn worker and background job sees the same ones)."""

from __future__ import annotations

import functools
import os
import tempfile

import diskcache

RESULTS_SIZE_LIMIT = 256 * 2**20  # bytes; least recently stored results are evicted


def cache_dir() -> str:
    return os.environ.get("DASH_CACHE_DIR",
                          os.path.join(tempfile.gettempdir(), "poisonlab-dash-cache"))


@functools.lru_cache(maxsize=1)
def background_cache() -> diskcache.Cache:
    """Where Dash's DiskcacheManager keeps background-job state."""
    return diskcache.Cache(cache_dir())


@functools.lru_cache(maxsize=1)
def results_cache() -> diskcache.Cache:
    """Experiment results computed by background jobs, keyed by the config's key."""
    return diskcache.Cache(os.path.join(cache_dir(), "results"),
                           size_limit=RESULTS_SIZE_LIMIT, eviction_policy="least-recently-stored")
