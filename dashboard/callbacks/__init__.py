"""Thin callbacks: parse inputs -> config -> core -> figures. Registered by ``register(app)``."""

from dash import Dash

from dashboard.callbacks import campaign, controls, experiment, export, matrix, sweep, upload


def register(app: Dash) -> None:
    controls.register(app)
    experiment.register(app)
    sweep.register(app)
    export.register(app)
    upload.register(app)
    matrix.register(app)
    campaign.register(app)
