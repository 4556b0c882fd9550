"""Run a GitHub workflow job's `run:` steps here, in order, the way a runner would.

Steps that exist only on GitHub (`uses:` actions) are skipped and listed, so that a test can
assert exactly which ones; `${{ }}` expressions in `env:` are filled in from a context the test
gives, and an expression the test did not foresee fails it. A step's `if:` may compare a step
output with a string (:data:`CONDITION`); a step it skips has the outcome "skipped". A test may
run only some steps (``only``): then it, not the runner, answers for their `if:` conditions.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def evaluate(text: str, context: dict[str, str]) -> str:
    """Replace every ${{ expression }} with its value; an unknown expression fails the test."""

    def value(match: re.Match[str]) -> str:
        expression = match.group(1)
        if expression not in context:
            pytest.fail(f"the test does not know the value of ${{{{ {expression} }}}}")
        return context[expression]

    return EXPRESSION.sub(value, str(text))


#: The DVC remote's credentials the workflows pass to the steps that pull or push data.
DATA_SECRETS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AZURE_STORAGE_CONNECTION_STRING")


def no_secrets() -> dict[str, str]:
    """The `secrets.*` context of a run that has none (a fork, or a repository without them)."""
    return {f"secrets.{name}": "" for name in DATA_SECRETS}


#: The one form of `if:` the runner evaluates: a step output compared with a string.
CONDITION = re.compile(r"(steps\.[\w-]+\.outputs\.[\w-]+) == '([^']*)'")


def condition(text: str, context: dict[str, str]) -> bool:
    """Evaluate a step's `if:`; another form than :data:`CONDITION` fails the test."""
    match = CONDITION.fullmatch(text.strip())
    if not match:
        pytest.fail(f"the runner cannot evaluate `if: {text}`")
    return context.get(match.group(1), "") == match.group(2)


@dataclass
class Job:
    """What running a job's steps gave: outcomes by step, the failed step, outputs, logs."""

    skipped: list[str] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)
    failed_step: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)


def run_job(
    project: Path,
    workflow: Path,
    context: dict[str, str],
    tmp: Path,
    job: str | None = None,
    *,
    only: list[str] | None = None,
    runner_env: dict[str, str] | None = None,
) -> Job:
    """Run the `run:` steps of ``job`` (default: the workflow's only job) in ``project``.

    Honours `continue-on-error`, records `steps.<id>.outcome` and `steps.<id>.outputs.*` for later
    steps and for the job's `outputs:`, and stops at the first failing step like a runner.

    Args:
        only: run just the `run:` steps of these names (the others are skipped and listed).
        runner_env: variables the runner itself sets on GitHub (e.g. GITHUB_REPOSITORY).
    """
    doc = yaml.safe_load(workflow.read_text())
    if job is None:
        (job_doc,) = doc["jobs"].values()
    else:
        job_doc = doc["jobs"][job]
    result = Job()
    context = dict(context)
    for index, step in enumerate(job_doc["steps"]):
        if "uses" in step:
            result.skipped.append(step["uses"].split("@")[0])
            continue
        name = step.get("name") or step["run"]
        if only is not None and name not in only:
            result.skipped.append(name)
            continue
        if "if" in step and not only and not condition(step["if"], context):
            result.outcomes[name] = "skipped"
            if "id" in step:
                context[f"steps.{step['id']}.outcome"] = "skipped"
            continue
        assert "${{" not in step["run"], f"{name}: expressions in run: (use env)"
        env = {**os.environ, "CI": "true", "GITHUB_ACTIONS": "true", **(runner_env or {})}
        for scope in (doc.get("env"), job_doc.get("env"), step.get("env")):
            env.update({k: evaluate(v, context) for k, v in (scope or {}).items()})
        output = tmp / f"output-{index}"
        output.write_text("")
        env["GITHUB_OUTPUT"] = str(output)
        env["GITHUB_STEP_SUMMARY"] = str(tmp / "step-summary.md")
        started = time.perf_counter()
        completed = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=project / step.get("working-directory", "."),
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        outcome = "success" if completed.returncode == 0 else "failure"
        print(f"{name}: {outcome} in {time.perf_counter() - started:.1f} s")
        result.logs.append(
            f"--- {name}: {outcome}\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
        )
        result.outcomes[name] = outcome
        if "id" in step:
            context[f"steps.{step['id']}.outcome"] = outcome
            for line in output.read_text().splitlines():
                key, _, value = line.partition("=")
                context[f"steps.{step['id']}.outputs.{key}"] = value
        if outcome == "failure" and not step.get("continue-on-error"):
            result.failed_step = name
            break
    if result.failed_step is None:
        result.outputs = {k: evaluate(v, context) for k, v in job_doc.get("outputs", {}).items()}
    return result
