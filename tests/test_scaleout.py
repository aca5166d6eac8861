"""Sweeps and the matrix on a real Dask cluster: the same numbers as the local run, exactly."""

import collections
import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from distributed import LocalCluster
from distributed.diagnostics.plugin import SchedulerPlugin
from distributed.utils import key_split

import core.parallel
from core import ExperimentConfig, run_matrix, run_sweep
from core.cli import main
from core.parallel import ClusterError, check_scheduler

ROOT = Path(__file__).resolve().parents[1]
CFG = ExperimentConfig(dataset="moons", n_samples=80)
RATES = [0.0, 0.25]
ATTACKS = ["injection", "gradient"]  # gradient: an iterative optimizer
DEFENSES = ["none", "knn_sanitize", "lof", "roni", "trim"]
SWEEP_ARGS = ["sweep", "--dataset", "moons", "--n-samples", "80", "--attack", "alfa",
              "--rates", "0,0.15", "--seeds", "2", "--json"]
MATRIX_ARGS = ["matrix", "--dataset", "moons", "--n-samples", "80", "--rate", "0.2",
               "--seeds", "2", "--attacks", "label_flip,targeted_flip", "--defenses",
               "none,lof,sphere,roni", "--json"]


class Finished(SchedulerPlugin):
    """Counts the tasks the scheduler saw finish, by function name."""

    def __init__(self):
        self.counts = collections.Counter()

    def transition(self, key, start, finish, *args, **kwargs):
        if finish == "memory":
            self.counts[key_split(key)] += 1


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes on 127.0.0.1 (HTTP on a random loopback port)."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as c:
        c.finished = Finished()
        c.scheduler.add_plugin(c.finished)  # the scheduler runs in this process
        yield c


def ran_there(cluster, name: str) -> int:
    """How many tasks calling ``name`` finished on the cluster so far (as dask names them:
    ``_attack_job`` -> ``attack_job``)."""
    return cluster.finished.counts[name]


def cli(*args):
    """``python ARGS`` in a fresh process; returns (status, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def local_cli(args):
    """``python -m core ARGS`` in this process; returns stdout."""
    out = io.StringIO()
    assert main(list(args), out=out) == 0
    return out.getvalue()


def test_sweep_on_the_cluster_equals_the_local_run(cluster):
    local = run_sweep(CFG, RATES, seeds=2, n_jobs=1)
    calls = []
    remote = run_sweep(CFG, RATES, seeds=2, scheduler=cluster.scheduler_address,
                       progress=lambda d, n: calls.append((d, n)))
    pd.testing.assert_frame_equal(remote, local, check_exact=True)
    assert calls == [(i, 4) for i in range(1, 5)]
    assert ran_there(cluster, "row") >= 4


def test_matrix_on_the_cluster_equals_the_local_run(cluster):
    local = run_matrix(CFG, ATTACKS, DEFENSES, 0.2, seeds=2, n_jobs=1)
    calls = []
    remote = run_matrix(CFG, ATTACKS, DEFENSES, 0.2, seeds=2,
                        scheduler=cluster.scheduler_address,
                        progress=lambda d, n: calls.append((d, n)))
    pd.testing.assert_frame_equal(remote, local, check_exact=True)
    assert calls == [(i, 4) for i in range(1, 5)]
    assert ran_there(cluster, "attack_job") >= 4


def test_cli_scheduler_flag_gives_the_local_json(cluster):
    status, remote, err = cli("-m", "core", *SWEEP_ARGS, "--scheduler", cluster.scheduler_address)
    assert status == 0, err
    # the local run, in a process of its own that lists what it imports: never dask
    status, local, imports = cli("-X", "importtime", "-m", "core", *SWEEP_ARGS)
    assert status == 0 and remote == local and len(json.loads(local)) == 4
    imported = {line.rsplit("|", 1)[-1].strip() for line in imports.splitlines()}
    assert "core.sweeps" in imported and not {"dask", "distributed"} & imported


def test_cli_reads_the_scheduler_from_the_environment(cluster, monkeypatch):
    local = local_cli(MATRIX_ARGS)
    before = ran_there(cluster, "attack_job")
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)
    assert local_cli(MATRIX_ARGS) == local and len(json.loads(local)) == 8
    assert ran_there(cluster, "attack_job") == before + 4  # 2 attacks x 2 seeds, there


def test_the_flag_wins_over_the_environment(cluster, monkeypatch, capsys):
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "not an address")
    args = ["sweep", "--dataset", "moons", "--n-samples", "80", "--rates", "0.1", "--seeds", "1",
            "--json"]
    assert main(args, out=io.StringIO()) == 2
    assert "scheduler='not an address'" in capsys.readouterr().err
    assert main([*args, "--scheduler", cluster.scheduler_address], out=io.StringIO()) == 0


def test_dashboard_jobs_run_on_the_cluster_from_the_environment(cluster, monkeypatch):
    from dashboard.callbacks.sweep import compute_sweep

    store = {"config": CFG.to_dict(), "scenario": None, "problems": []}
    local = compute_sweep(lambda p: None, store, "0.2", "1")
    before = ran_there(cluster, "row")
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)
    calls = []
    remote = compute_sweep(calls.append, store, "0.2", "1")
    assert remote == local and ran_there(cluster, "row") == before + 9
    assert [c[0] for c in calls] == list(range(10)) + [9]
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://nowhere")
    assert "scheduler='tcp://nowhere'" in compute_sweep(lambda p: None, store, "0.2", "1")["error"]


@pytest.mark.parametrize("address", ["", "tcp://", "tcp://host", "tcp://host:0", "host:99999",
                                     "http://host:8786", "tcp://host:port", "tcp://h:1/x", 8786])
def test_a_malformed_address_is_refused_by_name_before_any_work(address):
    with pytest.raises(ValueError, match=r"^scheduler="):
        run_sweep(CFG, RATES, seeds=1, scheduler=address)
    with pytest.raises(ValueError, match=r"^scheduler="):
        run_matrix(CFG, ATTACKS, DEFENSES, seeds=1, scheduler=address)


def test_addresses_are_normalized():
    assert check_scheduler("127.0.0.1:8786") == "tcp://127.0.0.1:8786"
    assert check_scheduler("TLS://Dask.example:443") == "tls://dask.example:443"
    assert check_scheduler("tcp://[::1]:8786") == "tcp://[::1]:8786"
    assert check_scheduler(None) is None


def test_nobody_listening_is_a_quick_clear_error(monkeypatch, capsys):
    with socket.socket() as s:  # a port that is bound but never listens: connection refused
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
        monkeypatch.setattr(core.parallel, "CONNECT_TIMEOUT", 0.5)
        start = time.perf_counter()
        with pytest.raises(ConnectionError, match=r"scheduler='tcp://127\.0\.0\.1:\d+' did not "
                                                  r"answer within 0.5 s"):
            run_sweep(CFG, RATES, seeds=1, scheduler=address)
        assert time.perf_counter() - start < 5
        status = main(["matrix", "--n-samples", "80", "--seeds", "1", "--scheduler", address],
                      out=io.StringIO())
    err = capsys.readouterr().err
    assert status == 1 and err.startswith("error: scheduler=") and len(err.splitlines()) == 1


def test_a_cluster_that_cannot_import_core_is_refused_before_any_task(cluster, monkeypatch):
    monkeypatch.setattr(core.parallel, "_PROBE", "poisonlab_missing_module:x")  # as if no core
    with pytest.raises(ClusterError, match=r"the scheduler cannot import PoisonLab"):
        run_sweep(CFG, RATES, seeds=1, scheduler=cluster.scheduler_address)


def test_a_cluster_without_workers_is_a_quick_clear_error(monkeypatch):
    monkeypatch.setattr(core.parallel, "CONNECT_TIMEOUT", 0.5)
    with LocalCluster(n_workers=0, processes=False, dashboard_address="127.0.0.1:0") as empty:
        with pytest.raises(ClusterError, match=r"has no workers \(none joined within 0.5 s\)"):
            run_matrix(CFG, ATTACKS, DEFENSES, seeds=1, scheduler=empty.scheduler_address)


def test_malformed_cli_address_exits_2_with_one_line(capsys):
    out = io.StringIO()
    status = main(["sweep", "--seeds", "1", "--scheduler", "tcp://host:port"], out=out)
    err = capsys.readouterr().err
    assert status == 2 and out.getvalue() == "" and len(err.splitlines()) == 1
    assert err.startswith("error: scheduler='tcp://host:port' is not an address")
