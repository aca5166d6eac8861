"""Shared caches: every gunicorn worker and background job sees the same ones.

Without ``REDIS_URL``: on-disk caches in a private directory (``DASH_CACHE_DIR``). With
it, experiment results computed by background jobs live in Redis, since a Celery worker
on another host (a Heroku worker dyno, a Render worker service) shares no disk with the
web process.

Both stores hold pickles, and unpickling runs code: diskcache's pickle use is a known
advisory (CVE-2025-69872, no fixed release) for anyone who can write to the cache
directory. So the directory must be this user's alone (created 0700, refused when group-
or world-writable or owned by another user), and results in Redis are signed (HMAC).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import pickle
import secrets
import stat
import tempfile
import time
from typing import Any

import diskcache

log = logging.getLogger(__name__)

RESULTS_SIZE_LIMIT = 256 * 2**20  # bytes; least recently stored results are evicted
JOB_EXPIRE = 600  # seconds a finished background job's result waits to be collected
RESULT_TTL = 3600  # seconds a background experiment result stays in Redis


def redis_url() -> str | None:
    return os.environ.get("REDIS_URL") or None


def redis_tls_cert_reqs(url: str):
    """For a ``rediss://`` URL: verify the server's certificate unless REDIS_TLS_VERIFY=0.

    Heroku's Redis presents a self-signed certificate, so there it must be 0 (the
    connection is still encrypted). None for plain ``redis://``.
    """
    if not url.startswith("rediss://"):
        return None
    import ssl

    return ssl.CERT_NONE if os.environ.get("REDIS_TLS_VERIFY") == "0" else ssl.CERT_REQUIRED


def cache_dir() -> str:
    default = os.path.join(tempfile.gettempdir(), f"poisonlab-dash-cache-{os.getuid()}")
    return private_dir(os.environ.get("DASH_CACHE_DIR", default))


def private_dir(path: str) -> str:
    """Create ``path`` (mode 0700) or check that nobody but this user can write to it."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    st = os.stat(path)
    if st.st_uid != os.getuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise RuntimeError(
            f"cache directory {path} is owned by another user or writable by others; "
            "its pickles would run their code here. Use a private DASH_CACHE_DIR.")
    return path


def signing_secret() -> str:
    """The key every web worker signs background-job handles with (Flask's ``secret_key``).

    ``POISONLAB_SECRET_KEY`` when set (needed when web processes share no disk), else a
    random key created once in the private cache directory, which all workers of a
    machine read back. Set on the server, both Dash apps (lab and story) use it: left to
    Dash, each app made its own, and a handle signed under one was checked under the other,
    so Cancel never found the job to stop.
    """
    key = os.environ.get("POISONLAB_SECRET_KEY")
    if key:
        return key
    path = os.path.join(cache_dir(), "signing-secret")
    try:  # the first worker to get here writes it; O_EXCL makes that atomic
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    for _ in range(50):  # another worker may be between its open and its write
        with open(path) as f:
            key = f.read().strip()
        if len(key) == 64:
            return key
        time.sleep(0.01)
    raise RuntimeError(f"{path} does not hold a signing key; delete it and restart")


@functools.lru_cache(maxsize=1)
def background_cache() -> diskcache.Cache:
    """Where Dash's DiskcacheManager keeps background-job state."""
    return diskcache.Cache(cache_dir())


class RedisResults:
    """The subset of ``diskcache.Cache`` the callbacks use (``in``, ``get``, ``set``), in Redis.

    Values are pickled and signed with HMAC-SHA256 under ``POISONLAB_SECRET_KEY`` (set the
    same value on the web and worker processes); a value with a bad signature is ignored.
    Entries expire after ``RESULT_TTL`` seconds.
    """

    PREFIX = "poisonlab:result:"

    def __init__(self, url: str, secret: str | None = None, ttl: int = RESULT_TTL):
        import redis

        cert_reqs = redis_tls_cert_reqs(url)
        tls = {} if cert_reqs is None else {"ssl_cert_reqs": cert_reqs}
        self.client = redis.Redis.from_url(url, **tls)
        if not secret:
            log.warning("POISONLAB_SECRET_KEY is not set: results in Redis are signed with a "
                        "key derived from REDIS_URL")
            secret = "poisonlab:" + url
        self.key = hashlib.sha256(secret.encode()).digest()
        self.ttl = ttl

    def _name(self, key: str) -> str:
        return self.PREFIX + hashlib.sha256(key.encode()).hexdigest()

    def __contains__(self, key: str) -> bool:
        return bool(self.client.exists(self._name(key)))

    def set(self, key: str, value: Any) -> None:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        mac = hmac.new(self.key, data, hashlib.sha256).digest()
        self.client.set(self._name(key), mac + data, ex=self.ttl)

    def get(self, key: str, default: Any = None) -> Any:
        raw = self.client.get(self._name(key))
        if raw is None:
            return default
        mac, data = raw[:32], raw[32:]
        if not hmac.compare_digest(mac, hmac.new(self.key, data, hashlib.sha256).digest()):
            log.error("ignored a result in Redis with a bad signature")
            return default
        return pickle.loads(data)  # noqa: S301 - signed by us, checked above


@functools.lru_cache(maxsize=1)
def results_cache() -> diskcache.Cache | RedisResults:
    """Experiment results computed by background jobs, keyed by the config's key."""
    if redis_url():
        return RedisResults(redis_url(), os.environ.get("POISONLAB_SECRET_KEY"))
    return diskcache.Cache(os.path.join(cache_dir(), "results"),
                           size_limit=RESULTS_SIZE_LIMIT, eviction_policy="least-recently-stored")
