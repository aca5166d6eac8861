"""Vendor plotly.js's cartesian bundle into ``assets/``, with no internet address left in it.

``python scripts/vendor_plotly.py PATH`` takes npm's ``plotly.js-cartesian-dist-min``
``plotly-cartesian.min.js`` (the version the ``plotly`` package ships: see
``tests/test_dashboard.py``) and writes ``assets/plotly-cartesian.min.js`` with one change:
the default of plotly's ``topojsonURL`` config option, where geo traces fetch their maps,
points at this app's own ``/assets/`` instead of plotly's CDN. The cartesian bundle has no
geo trace, so the value is never used; the change only guarantees that nothing in the page
can reach for a CDN (the app must render with no internet). The test undoes the change and
checks npm's hash, so the file stays npm's bundle byte for byte otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

ASSET = Path(__file__).resolve().parent.parent / "assets" / "plotly-cartesian.min.js"
CDN_DEFAULT = b'topojsonURL:{valType:"string",noBlank:!0,dflt:"https://cdn.plot.ly/un/"}'
LOCAL_DEFAULT = b'topojsonURL:{valType:"string",noBlank:!0,dflt:"/assets/topojson/"}'


def localize(bundle: bytes) -> bytes:
    """``bundle`` with the CDN default replaced; exactly one occurrence, or ValueError."""
    if bundle.count(CDN_DEFAULT) != 1:
        raise ValueError("the bundle's topojsonURL default is not the expected CDN one: "
                         "check the plotly.js version")
    return bundle.replace(CDN_DEFAULT, LOCAL_DEFAULT)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.split("\n")[2], file=sys.stderr)
        return 2
    ASSET.write_bytes(localize(Path(argv[0]).read_bytes()))
    print(f"wrote {ASSET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
