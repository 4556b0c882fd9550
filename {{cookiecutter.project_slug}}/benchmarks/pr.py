"""Time the pull-request report's path: each `make` step of pr-report.yml, in order, and the total.

The steps are read from the workflows themselves (their `run: make ...` steps, with their static
`env:`), so what is timed is what CI runs. The expression `github.base_ref` becomes BASE (default:
main); secrets are empty, as for a pull request from a fork or a repository without a tracking
server. The first step (`make install`) runs on the environment as it is: run it once before for
a warm figure (the target excludes the cold install). Steps run in this checkout and rewrite
artifacts/ as CI would.

The report reads the base's run from the Actions cache, which ci.yml's `base-run` job fills on
each push to main. Before the timed path, that job's `make` steps run (untimed: on GitHub they
run when main is pushed, not in the PR) in a git worktree of the merge base, and the cached
folder is copied here, as the restore step would. After the path, the report step runs once more
without it: the figure of a cache miss, which retrains the base.

Usage: python benchmarks/pr.py [--base main] [--target 45]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from common import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
PR_WORKFLOW = WORKFLOWS / "pr-report.yml"
#: The workflow and job that save the base's run in the Actions cache.
BASE_WORKFLOW, BASE_JOB = WORKFLOWS / "ci.yml", "base-run"
RESTORE_ACTION = "actions/cache/restore"
#: The issue's target for the path from install to report, on 2 cores, warm install excluded.
TARGET_SECONDS = 45.0
#: The same path measured before the base's run was cached (issue 14, idle 2-core machine).
BASELINE_SECONDS = 58.4
#: Expressions of the workflow's env as a pull request without secrets sees them (any other
#: `secrets.*` is empty): no tracking server, so nothing is tracked.
FORK_VALUES = {"secrets.MLFLOW_TRACKING_URI && 'mlflow' || 'none'": "none"}
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass(frozen=True)
class Step:
    """One `make` step of a workflow job."""

    name: str
    argv: list[str]
    env: dict[str, str]
    may_fail: bool


@dataclass(frozen=True)
class Timed:
    """A step's wall and CPU seconds and its exit status."""

    step: Step
    seconds: float
    cpu: float
    returncode: int


def _steps(workflow: Path, job: str | None = None) -> list[dict[str, Any]]:
    """The steps of a job of ``workflow`` (default: its first job), as YAML gives them."""
    jobs = yaml.safe_load(workflow.read_text(encoding="utf-8"))["jobs"]
    steps: list[dict[str, Any]] = (jobs[job] if job else next(iter(jobs.values())))["steps"]
    return steps


def make_steps(workflow: Path, base: str, job: str | None = None) -> list[Step]:
    """The job's `make` steps, expressions filled in (default job: the first)."""
    values = {"github.base_ref": base, **FORK_VALUES}
    steps = []
    for step in _steps(workflow, job):
        command = str(step.get("run", "")).strip()
        if not command.startswith("make ") or "\n" in command:
            continue
        env = {
            key: EXPRESSION.sub(lambda m: values.get(m.group(1), ""), str(value))
            for key, value in (step.get("env") or {}).items()
        }
        may_fail = bool(step.get("continue-on-error"))
        steps.append(Step(step.get("name", command), shlex.split(command), env, may_fail))
    return steps


def cached_path() -> str:
    """The folder pr-report.yml restores from the Actions cache (the base's saved run)."""
    for step in _steps(PR_WORKFLOW):
        if str(step.get("uses", "")).startswith(f"{RESTORE_ACTION}@"):
            return str(step["with"]["path"])
    sys.exit(f"{PR_WORKFLOW}: no {RESTORE_ACTION} step")


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(step: Step, cwd: Path) -> Timed:
    """Run one step in ``cwd``; print and return its timing."""
    started, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(
        step.argv,
        cwd=cwd,
        env={**os.environ, **step.env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    timed = Timed(step, time.perf_counter() - started, _children_cpu() - cpu, done.returncode)
    print(
        f"{timed.seconds:7.1f} s  {step.name}  ({' '.join(step.argv)}, exit {done.returncode}; "
        f"CPU {timed.cpu:.1f} s)",
        flush=True,
    )
    if done.returncode != 0 and not step.may_fail:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        print(f"         last lines of stderr:\n{tail}", flush=True)
    return timed


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def save_base_run(base_ref: str, saved: str) -> None:
    """Run ci.yml's base-run job in a worktree of the merge base; copy its saved run here."""
    commit = _git("merge-base", "HEAD", base_ref)
    print(f"(untimed) {BASE_WORKFLOW.name} job {BASE_JOB} on the merge base {commit[:7]}")
    data = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))["data"]["path"]
    with tempfile.TemporaryDirectory(prefix="bench-pr-") as tmp:
        worktree = Path(tmp) / "base"
        _git("worktree", "add", "--detach", "--quiet", str(worktree), commit)
        try:
            base_project = worktree / _git("rev-parse", "--show-prefix")
            if (ROOT / data).is_file() and not (base_project / data).exists():
                (base_project / data).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / data, base_project / data)  # unversioned: the same file
            steps = make_steps(BASE_WORKFLOW, base_ref, BASE_JOB)
            failed = [t for t in (run(s, base_project) for s in steps) if t.returncode != 0]
            if any(not t.step.may_fail for t in failed) or not (base_project / saved).is_dir():
                sys.exit(f"the {BASE_JOB} job failed on {commit[:7]}: no saved run to restore")
            shutil.rmtree(ROOT / saved, ignore_errors=True)
            shutil.copytree(base_project / saved, ROOT / saved)
        finally:
            _git("worktree", "remove", "--force", str(worktree))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="the PR's base branch (default: main)")
    parser.add_argument("--target", type=float, default=TARGET_SECONDS)
    args = parser.parse_args()
    saved = cached_path()
    save_base_run(f"origin/{args.base}", saved)
    print(f"(restored {saved}/ as {RESTORE_ACTION} does: a few KB, not timed here)")
    steps = make_steps(PR_WORKFLOW, args.base)
    rows = [run(step, ROOT) for step in steps]
    failed = any(t.returncode != 0 and not t.step.may_fail for t in rows)
    total = sum(t.seconds for t in rows)
    install = sum(t.seconds for t in rows if t.step.argv == ["make", "install"])
    cpu = sum(t.cpu for t in rows)
    print(f"{total:7.1f} s  total (CPU {cpu:.1f} s: wall time grows with load)")
    print(
        f"{total - install:7.1f} s  total without `make install`, base's run from the cache "
        f"(target: <= {args.target:.0f} s on 2 cores; before the cache: {BASELINE_SECONDS} s)"
    )
    report = rows[-1]
    shutil.rmtree(ROOT / saved)
    print(f"cache miss: {report.step.name} again without {saved}/ (retrains the base)")
    miss = run(report.step, ROOT)
    print(
        f"{total - install - report.seconds + miss.seconds:7.1f} s  total without `make install` "
        f"on a cache miss (the report retrains the base)"
    )
    sys.exit(1 if failed or miss.returncode != 0 else 0)


if __name__ == "__main__":
    main()
