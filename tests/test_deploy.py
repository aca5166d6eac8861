"""Deployment wiring that needs no server: Procfile / render.yaml, Redis TLS, cache safety."""

import os
import re
import ssl
from pathlib import Path

import pytest

from dashboard.cache import RedisResults, private_dir, redis_tls_cert_reqs

ROOT = Path(__file__).resolve().parent.parent
WORKER = "celery -A dashboard.app:celery_app worker"


def test_procfile_and_render_yaml_run_the_web_app_and_the_worker():
    procfile = dict(line.split(": ", 1) for line in
                    (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert procfile["web"] == "gunicorn dashboard.app:server --config gunicorn.conf.py"
    assert procfile["worker"].startswith(WORKER)
    render = (ROOT / "render.yaml").read_text()
    assert f"startCommand: {procfile['web']}" in render
    assert f"startCommand: {WORKER}" in render
    assert re.search(r"type: keyvalue\s+name: poisonlab-redis", render)
    # both services get REDIS_URL from the Key Value instance, and the same secret
    assert render.count("key: REDIS_URL") == 2 and render.count("property: connectionString") == 2
    assert render.count("fromGroup: poisonlab-shared") == 2
    assert "POISONLAB_SECRET_KEY" in render and "generateValue: true" in render


def test_the_worker_module_exposes_a_celery_app_only_with_redis():
    import dashboard.app
    assert os.environ.get("REDIS_URL") or dashboard.app.celery_app is None
    celery = dashboard.app.make_celery("redis://127.0.0.1:6379/0")
    assert celery.conf.task_serializer == "json" and celery.conf.accept_content == ["json"]
    assert celery.conf.result_expires


@pytest.mark.parametrize("verify, want", [(None, ssl.CERT_REQUIRED), ("0", ssl.CERT_NONE)])
def test_rediss_urls_get_tls_settings(monkeypatch, verify, want):
    from dashboard.app import make_celery
    if verify is None:
        monkeypatch.delenv("REDIS_TLS_VERIFY", raising=False)
    else:
        monkeypatch.setenv("REDIS_TLS_VERIFY", verify)
    url = "rediss://:secret@redis.example:6380/0"
    assert redis_tls_cert_reqs(url) == want and redis_tls_cert_reqs("redis://x:1/0") is None
    celery = make_celery(url)
    assert celery.conf.broker_use_ssl == {"ssl_cert_reqs": want}
    assert type(celery.backend).__name__ == "RedisBackend"  # no "must have ssl_cert_reqs"
    results = RedisResults(url, "k")
    assert results.client.connection_pool.connection_kwargs["ssl_cert_reqs"] == want


def test_the_cache_directory_must_be_private(tmp_path):
    mine = tmp_path / "new"
    assert private_dir(str(mine)) == str(mine)
    assert mine.stat().st_mode & 0o077 == 0
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # e.g. pre-created in /tmp by another user
    with pytest.raises(RuntimeError, match="writable by others"):
        private_dir(str(shared))


class FakeRedis:
    def __init__(self):
        self.data = {}

    def set(self, name, value, ex=None):
        self.data[name] = value

    def get(self, name):
        return self.data.get(name)

    def exists(self, name):
        return int(name in self.data)


def test_results_in_redis_are_signed_and_a_forged_one_is_ignored():
    results = RedisResults("redis://127.0.0.1:1/0", "secret")
    results.client = FakeRedis()
    results.set("cfg", {"accuracy": 0.9})
    assert "cfg" in results and results.get("cfg") == {"accuracy": 0.9}
    name = results._name("cfg")
    import pickle
    forged = pickle.dumps({"accuracy": 1.0})
    results.client.data[name] = b"\0" * 32 + forged  # someone with Redis access writes a pickle
    assert results.get("cfg") is None
    other = RedisResults("redis://127.0.0.1:1/0", "another secret")
    other.client = results.client
    results.set("cfg", {"accuracy": 0.9})
    assert other.get("cfg") is None  # a different key does not verify
