"""Time the pull-request report's path: each `make` step of pr-report.yml, in order, and the total.

The steps are read from the workflow itself (its `run: make ...` steps, with their static `env:`),
so what is timed is what CI runs. The expression `github.base_ref` becomes BASE (default: main);
secrets are empty, as for a pull request from a fork or a repository without a tracking server.
The first step (`make install`) runs on the environment as it is: run it once before for a warm
figure (the target excludes the cold install). Steps run in this checkout and rewrite artifacts/
as CI would.

Usage: python benchmarks/pr.py [--base main] [--target 45]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shlex
import subprocess
import sys
import time

import yaml
from common import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "pr-report.yml"
#: The issue's target for the path from install to report, on 2 cores, warm install excluded.
TARGET_SECONDS = 45.0
#: Expressions of the workflow's env as a pull request without secrets sees them (any other
#: `secrets.*` is empty): no tracking server, so nothing is tracked.
FORK_VALUES = {"secrets.MLFLOW_TRACKING_URI && 'mlflow' || 'none'": "none"}
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def make_steps(base: str) -> list[tuple[str, list[str], dict[str, str], bool]]:
    """The workflow's `make` steps: (name, argv, env, may fail), expressions filled in."""
    job = next(iter(yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"].values()))
    values = {"github.base_ref": base, **FORK_VALUES}
    steps = []
    for step in job["steps"]:
        command = str(step.get("run", "")).strip()
        if not command.startswith("make ") or "\n" in command:
            continue
        env = {
            key: EXPRESSION.sub(lambda m: values.get(m.group(1), ""), str(value))
            for key, value in (step.get("env") or {}).items()
        }
        may_fail = bool(step.get("continue-on-error"))
        steps.append((step.get("name", command), shlex.split(command), env, may_fail))
    return steps


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="the PR's base branch (default: main)")
    parser.add_argument("--target", type=float, default=TARGET_SECONDS)
    args = parser.parse_args()
    rows = []
    failed = False
    for name, argv, env, may_fail in make_steps(args.base):
        started, cpu = time.perf_counter(), _children_cpu()
        done = subprocess.run(
            argv,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        seconds, cpu = time.perf_counter() - started, _children_cpu() - cpu
        rows.append((name, " ".join(argv), seconds, cpu))
        print(
            f"{seconds:7.1f} s  {name}  ({' '.join(argv)}, exit {done.returncode}; "
            f"CPU {cpu:.1f} s)",
            flush=True,
        )
        if done.returncode != 0 and not may_fail:
            failed = True
            tail = "\n".join(done.stderr.strip().splitlines()[-5:])
            print(f"         last lines of stderr:\n{tail}", flush=True)
    total = sum(r[2] for r in rows)
    install = sum(r[2] for r in rows if r[1] == "make install")
    print(f"{total:7.1f} s  total (CPU {sum(r[3] for r in rows):.1f} s: wall time grows with load)")
    print(
        f"{total - install:7.1f} s  total without `make install` "
        f"(target: <= {args.target:.0f} s on 2 cores)"
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
