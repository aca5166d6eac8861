"""``python -m dashboard [--port N]``: the development server (debug only via POISONLAB_DEBUG=1)."""

import argparse
import os

from dashboard.app import app, start_job_server

parser = argparse.ArgumentParser(prog="python -m dashboard")
parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8050)))
parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
args = parser.parse_args()
start_job_server()
app.run(host=args.host, port=args.port, debug=os.environ.get("POISONLAB_DEBUG") == "1")
