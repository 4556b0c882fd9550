"""``make example-request``: a valid ``/predict`` request built from the trained model's schema.

Prints the curl command (for the README, a client, a smoke test) and, with ``--send``, sends the
body to a running server and prints its answer. Feature names and values come from
``artifacts/lineage.json`` (the middle of each numeric range, the first of each category), so
the example fits the data the model was trained on, bundled or adopted.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import ArtifactError
from ..layout import DEFAULT_DIR
from ..pipeline.lineage import read_lineage
from .schema import example_record


def example_body(artifacts_dir: Path) -> str:
    """Return the JSON body of a one-record ``/predict`` request for the trained model.

    Raises:
        ArtifactError: If there is no lineage record (no training run yet).
    """
    features = json.loads(read_lineage(artifacts_dir))["data"]["features"]
    return json.dumps({"records": [example_record(features)]})


def curl_command(url: str, body: str) -> str:
    """Return a shell-quoted curl command that POSTs ``body`` as JSON to ``url``."""
    return (
        f"curl -s -X POST {shlex.quote(url)} -H 'content-type: application/json' \\\n"
        f"     -d {shlex.quote(body)}"
    )


def main(argv: list[str] | None = None) -> int:
    """Print (and with ``--send``, send) an example request; 1 when the server refuses it."""
    parser = argparse.ArgumentParser(prog="make example-request", description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:3000", help="the server's base URL")
    parser.add_argument("--artifacts", type=Path, default=Path(DEFAULT_DIR))
    parser.add_argument("--send", action="store_true", help="POST it and print the answer")
    args = parser.parse_args(argv)
    if not args.url.startswith(("http://", "https://")):
        parser.error(f"--url must start with http:// or https://, got {args.url!r}")
    try:
        body = example_body(args.artifacts)
    except ArtifactError as error:
        print(f"example-request: {error}", file=sys.stderr)
        return 1
    url = args.url.rstrip("/") + "/predict"
    print(curl_command(url, body))
    if not args.send:
        return 0
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=body.encode(), method="POST", headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - checked
            print(response.status, response.read().decode())
    except urllib.error.HTTPError as error:
        answer = error.read().decode()
        print(f"example-request: {url} answered {error.code}: {answer}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"example-request: {url}: {error} (is `make serve` running?)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
