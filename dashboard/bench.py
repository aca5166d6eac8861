"""Benchmark of the main update callback, end to end (a benchmark, not a test).

``python -m dashboard.bench [--repeats N]`` posts the compute callback's request to the
Flask server in-process (core + figures + Dash's JSON serialization), with the memo
cache cleared before each cold run, and prints the median and spread per scenario.
Configs the dashboard sends to a background job (over 1,500 training points, or the
gradient attack) are timed as that job's work: core + figures + JSON, in-process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from core import ExperimentConfig, scenario_config
from dashboard.callbacks.experiment import PANEL_OUTPUTS
from dashboard.state import default_config

OUTPUTS = PANEL_OUTPUTS


def request_body(config: ExperimentConfig) -> dict:
    return {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in OUTPUTS) + "..",
        "outputs": [{"id": i, "property": p} for i, p in OUTPUTS],
        "inputs": [{"id": "config-store", "property": "data",
                    "value": {"config": config.to_dict(), "scenario": None, "problems": []}}],
        "changedPropIds": ["config-store.data"],
        "state": [],
    }


def time_update(client, config: ExperimentConfig, *, cold: bool) -> tuple[float, int]:
    from dashboard.callbacks.experiment import _cached, compute, runs_in_background

    if cold:
        _cached.cache_clear()
    if runs_in_background(config):  # what the background job + the render do, in-process
        import plotly

        start = time.perf_counter()
        _, figures = compute(config)
        size = len(json.dumps(figures, cls=plotly.utils.PlotlyJSONEncoder))
        return time.perf_counter() - start, size
    start = time.perf_counter()
    resp = client.post("/_dash-update-component", json=request_body(config))
    elapsed = time.perf_counter() - start
    if resp.status_code != 200:
        raise RuntimeError(f"update failed with HTTP {resp.status_code}")
    return elapsed, len(resp.get_data())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dashboard.bench")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)

    from dashboard.app import app

    client = app.server.test_client()
    client.get("/")
    cases = [
        ("default view (seed-demo)", default_config()),
        ("label-flip-moons", scenario_config("label-flip-moons")),
        ("loan-fraud", scenario_config("loan-fraud")),
        ("seed-demo, 2,000 training points", default_config().replace(
            n_samples=int(2000 / 0.6) // 50 * 50 + 50)),
        ("label-flip-moons, 2,000 training points", scenario_config(
            "label-flip-moons", n_samples=int(2000 / 0.6) // 50 * 50 + 50)),
    ]
    time_update(client, cases[0][1], cold=True)  # imports, first-call costs
    print(f"{'case':<42} {'n_train':>7} {'cold median':>12} {'cold min-max':>16} "
          f"{'memo hit':>9} {'response':>9}")
    for name, config in cases:
        cold = [time_update(client, config, cold=True) for _ in range(args.repeats)]
        warm = [time_update(client, config, cold=False)[0] for _ in range(args.repeats)]
        times = [t for t, _ in cold]
        n_train = round(config.n_samples * (1 - config.test_fraction))
        print(f"{name:<42} {n_train:>7} {1000 * statistics.median(times):>9.0f} ms "
              f"{1000 * min(times):>6.0f}-{1000 * max(times):<5.0f} ms "
              f"{1000 * statistics.median(warm):>6.0f} ms {cold[0][1] / 1024:>6.0f} KB")


if __name__ == "__main__":
    main()
