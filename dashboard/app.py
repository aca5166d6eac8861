"""Creates the Dash app; ``server`` is what gunicorn serves."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Dash, html

from core import run_experiment, scenario_config


def create_app() -> Dash:
    app = Dash(__name__, title="PoisonLab", assets_folder="../assets")
    r = run_experiment(scenario_config("seed-demo", grid_resolution=0))
    app.layout = dbc.Container([
        html.H1("PoisonLab"),
        html.P(f"seed-demo: clean {r.clean_accuracy:.1%}, poisoned {r.poisoned_accuracy:.1%}, "
               f"defended {r.defended_accuracy:.1%} (held-out test accuracy, computed live)"),
    ])
    return app


app = create_app()
server = app.server
