"""The wiring every job card's background callback shares (see ``layout.job_card``)."""

from __future__ import annotations

from typing import Any

from dash import Input, Output


def job_wiring(*, run: str, cancel: str, progress: str, status: str) -> dict[str, Any]:
    """``app.callback`` keywords for a job started by ``run``: a background callback that
    reports ``(done, total, text)`` to the progress bar and status line, disables Run while
    it works, and stops when ``cancel`` is clicked."""
    return {
        "background": True,
        "progress": [Output(progress, "value"), Output(progress, "max"),
                     Output(status, "children")],
        "running": [(Output(run, "disabled"), True, False),
                    (Output(cancel, "disabled"), False, True)],
        "cancel": [Input(cancel, "n_clicks")],
        "prevent_initial_call": True,
    }
