"""Screenshot a page of the dashboard with headless Chromium: ``docs/lab.png`` and friends.

``python scripts/screenshot.py`` serves the app on a free 127.0.0.1 port (werkzeug, in a
thread) and writes ``docs/lab.png`` (the lab on its default scenario, 1400 x 1100);
``--path "/story/?step=3" --out docs/story.png`` takes another page. Needs Debian's
``chromium`` (``apt-get install chromium``). ``--virtual-time-budget`` lets Dash render
before the shot (without it the PNG is blank).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--hide-scrollbars"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--path", default="/", help="page and query, e.g. '/?scenario=loan-fraud'")
    p.add_argument("--out", default=str(ROOT / "docs" / "lab.png"))
    p.add_argument("--size", default="1400,1100", help="window WIDTH,HEIGHT")
    p.add_argument("--wait", type=int, default=15000, help="virtual ms to let the page render")
    args = p.parse_args(argv)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("error: no chromium on PATH (apt-get install chromium)", file=sys.stderr)
        return 2
    from werkzeug.serving import make_server

    from dashboard.app import app

    app.server.test_client().get("/")  # Dash's one-time setup before concurrent requests
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}{args.path}"
    try:
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run([browser, *CHROMIUM_ARGS, f"--user-data-dir={profile}",
                            f"--window-size={args.size}", f"--virtual-time-budget={args.wait}",
                            f"--screenshot={args.out}", url],
                           check=True, capture_output=True, timeout=120)
    finally:
        server.shutdown()
    print(f"wrote {args.out} from {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
