"""The pull-request workflows, run here without GitHub.

pr-report.yml: every `run:` step of its job is executed in order, with the env the workflow gives
it, in a baked project that is a real git repository (main plus feature branches pushed to a
local "origin"). Only steps that exist on GitHub alone (`uses:` actions) are skipped, and their
list is asserted: a new step that this test does not run fails it.

pr-comment.yml: its one piece of logic that is not GitHub's, the validation of the PR number and
of the images the artifact asks to publish, is extracted and run against good and bad artifacts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import Baked, bake
from workflow_runner import Job, evaluate, run_job

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("workflows")]

#: `uses:` steps of pr-report.yml that only exist on GitHub (the runner provides git and uv).
PR_REPORT_GITHUB_ONLY = ["actions/checkout", "astral-sh/setup-uv", "actions/upload-artifact"]
PR_NUMBER = "7"


def git(project: Baked, *args: str) -> str:
    return project.run("git", *args).stdout.strip()


def _section(markdown: str, title: str) -> str:
    match = re.search(rf"^### {re.escape(title)}\n(.*?)(?=^### |\Z)", markdown, re.M | re.S)
    assert match, f"no section {title!r} in the report"
    return match.group(1)


def _metric_rows(markdown: str) -> dict[str, list[str]]:
    table = _section(markdown, "Metrics").split("<details>")[0]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()]
    return {r[0].split()[0]: r for r in rows if len(r) == 5 and r[1] not in ("This PR", "---:")}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Baked:
    """A baked project (plots published) on main, uv.lock in its first commit, pushed to origin."""
    root = tmp_path_factory.mktemp("workflows")
    project = bake(root, git_init=True, report_images="publish")
    project.run("make", "install")
    origin = root / "origin.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(origin)], check=True)
    git(project, "remote", "add", "origin", str(origin))
    git(project, "push", "--quiet", "origin", "main")
    return project


def pull_request(project: Baked, branch: str, edit: dict[str, object], tmp: Path) -> Job:
    """Open a "pull request": branch off main, edit params.yaml, commit, run pr-report.yml."""
    git(project, "checkout", "--quiet", "main")
    git(project, "checkout", "--quiet", "-b", branch)
    params_file = project.path / "params.yaml"
    params = yaml.safe_load(params_file.read_text())
    for dotted, value in edit.items():
        *parents, last = dotted.split(".")
        node = params
        for key in parents:
            node = node[key]
        node[last] = value
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    git(project, "commit", "--quiet", "-am", f"Try {edit}")
    git(project, "fetch", "--quiet", "origin")  # actions/checkout with fetch-depth: 0
    shutil.rmtree(project.path / "artifacts", ignore_errors=True)  # a fresh runner
    context = {"github.base_ref": "main", "github.event.pull_request.number": PR_NUMBER}
    tmp.mkdir()
    workflow = project.path / ".github/workflows/pr-report.yml"
    steps = yaml.safe_load(workflow.read_text())["jobs"]["report"]["steps"]
    uses = [s["uses"].split("@")[0] for s in steps if "uses" in s]
    assert uses == PR_REPORT_GITHUB_ONLY, "a new step that this test does not run"
    return run_job(project.path, workflow, context, tmp)


def _hyperparameter(project: Baked) -> tuple[str, float]:
    model = yaml.safe_load((project.path / "params.yaml").read_text())["model"]
    name = {"logistic_regression": "C", "ridge": "alpha"}[model["type"]]
    return f"model.params.{name}", float(model["params"][name])


def test_pr_report_job_compares_with_main(repo: Baked, tmp_path: Path) -> None:
    key, value = _hyperparameter(repo)
    job = pull_request(repo, "smaller-c", {key: value / 20}, tmp_path / "job")
    log = "\n".join(job.logs)
    assert job.failed_step is None, log
    assert set(job.outcomes.values()) == {"success"}, log
    report_dir = repo.path / "artifacts" / "report"
    markdown = (report_dir / "report.md").read_text()

    assert markdown.splitlines()[2].startswith("✅"), markdown
    main_sha = git(repo, "rev-parse", "origin/main")
    assert f"Compared with `origin/main` at {main_sha[:7]} (merge base)." in markdown
    pr_test = json.loads((repo.path / "artifacts/metrics.json").read_text())["test"]
    base_test = json.loads((repo.path / "artifacts/base/metrics.json").read_text())["test"]
    rows = _metric_rows(markdown)
    assert set(rows) == set(pr_test)
    higher_is_better = {"accuracy", "precision", "recall", "f1", "roc_auc", "r2"}
    for name, (_, pr_cell, base_cell, _, verdict) in rows.items():
        assert pr_cell == f"{pr_test[name]:.4f}"
        assert base_cell == f"{base_test[name]:.4f}"
        if pr_test[name] == base_test[name]:
            assert verdict == "unchanged"
        else:
            better = (pr_test[name] > base_test[name]) == (name in higher_is_better)
            assert verdict.endswith("better" if better else "worse"), (name, verdict)
    assert any(v[4].endswith(("better", "worse")) for v in rows.values()), "C changed nothing?"
    changed = _section(markdown, "Parameters changed from the base")
    assert f"| `{key}` | `{value}` | `{value / 20}` |" in changed
    assert "Data unchanged" in _section(markdown, "Data")

    # The base is main's own run, retrained in a worktree that is gone again.
    base_lineage = json.loads((repo.path / "artifacts/base/lineage.json").read_text())
    assert base_lineage["git"]["commit"] == main_sha
    assert git(repo, "worktree", "list").count("\n") == 0

    # Published plots: every image the report embeds is in the artifact.
    targets = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert targets
    for target in targets:
        assert (report_dir / target).is_file()
    assert (report_dir / "images.txt").read_text() == "publish\n"
    assert (report_dir / "pr-number.txt").read_text() == f"{PR_NUMBER}\n"
    assert (report_dir / "checks.html").is_file()


def test_pr_report_job_reports_a_failing_gate_then_fails(repo: Baked, tmp_path: Path) -> None:
    key, value = _hyperparameter(repo)
    job = pull_request(repo, "broken-model", {key: value * 1e-6}, tmp_path / "job")
    log = "\n".join(job.logs)
    assert job.outcomes["Model tests and gates"] == "failure", log
    assert job.outcomes["Build the report (compared with the base branch)"] == "success", log
    assert job.failed_step == "Fail if a gate failed", log
    markdown = (repo.path / "artifacts/report/report.md").read_text()
    checks = json.loads((repo.path / "artifacts/checks.json").read_text())
    failed = [g["name"] for g in checks["gates"] if not g["passed"]]
    assert failed, "the broken model passes every gate"
    verdict = markdown.splitlines()[2]
    assert f"{len(failed)} of {len(checks['gates'])}" in verdict
    for name in failed:
        assert f"`{name}`" in verdict
    assert any("❌" in v[4] for v in _metric_rows(markdown).values())


# --- pr-comment.yml --------------------------------------------------------------------------

COMMENT_WORKFLOW = "pr-comment.yml"
HEAD_SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def comment_workflow(tmp_path_factory: pytest.TempPathFactory) -> dict:
    project = bake(tmp_path_factory.mktemp("comment"))
    return yaml.safe_load((project.path / ".github/workflows" / COMMENT_WORKFLOW).read_text())


def test_comment_workflow_never_runs_pr_code(comment_workflow: dict) -> None:
    (job,) = comment_workflow["jobs"].values()
    uses = [s["uses"].split("@")[0] for s in job["steps"] if "uses" in s]
    assert uses == ["actions/download-artifact", "iterative/setup-cml"]
    assert comment_workflow["permissions"] == {}
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    runs = "\n".join(s["run"] for s in job["steps"] if "run" in s)
    assert "make " not in runs
    assert "python" not in runs
    cml = next(s for s in job["steps"] if "uses" in s and "setup-cml" in s["uses"])
    assert cml["with"] == {"version": "0.20.6", "vega": False}
    post = job["steps"][-1]
    assert "cml comment update report.md" in post["run"]
    assert '--target="pr/${PR_NUMBER}"' in post["run"]
    assert '--watermark-title="Model report"' in post["run"]
    assert post["env"]["ITERATIVE_DO_NOT_TRACK"] == "true"


def validate(
    comment_workflow: dict,
    tmp_path: Path,
    pr_number: bytes,
    *,
    pull_requests: list[int] = (7,),
    images: str = "artifact",
    markdown: str = "## Model report\n",
) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """Run the validation step on an artifact with these contents; return it and its outputs."""
    (job,) = comment_workflow["jobs"].values()
    step = next(s for s in job["steps"] if s.get("id") == "validate")
    report = tmp_path / step["env"]["REPORT_DIR"]
    (report / "plots").mkdir(parents=True)
    (report / "plots" / "roc_curve.png").write_bytes(b"\x89PNG\r\n")
    (report / "pr-number.txt").write_bytes(pr_number)
    (report / "images.txt").write_text(images + "\n")
    (report / "report.md").write_text(markdown)
    output = tmp_path / "github_output"
    output.write_text("")
    context = {
        "toJSON(github.event.workflow_run.pull_requests)": json.dumps(
            [{"number": n, "head": {"sha": HEAD_SHA}} for n in pull_requests]
        ),
        "github.event.workflow_run.head_sha": HEAD_SHA,
        "github.token": "",
        "github.repository": "example-owner/example-repo",
    }
    env = {k: evaluate(v, context) for k, v in step["env"].items()}
    env = {**os.environ, **env, "GITHUB_OUTPUT": str(output), "GH_HOST": "github.invalid"}
    script = tmp_path / "validate.sh"
    script.write_text(step["run"])
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    return result, outputs


@pytest.fixture(autouse=True)
def _needs_jq(request: pytest.FixtureRequest) -> None:
    if "comment_workflow" in request.fixturenames and shutil.which("jq") is None:
        pytest.skip("jq (preinstalled on GitHub runners) is not installed")


@pytest.mark.parametrize("content", [b"7", b"7\n"])
def test_comment_accepts_the_number_of_the_triggering_pull_request(
    comment_workflow: dict, tmp_path: Path, content: bytes
) -> None:
    result, outputs = validate(comment_workflow, tmp_path, content)
    assert result.returncode == 0, result.stdout + result.stderr
    assert outputs == {"number": "7", "publish": "false"}


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\n",
        b"abc",
        b"07",
        b"-7",
        b"7.0",
        b" 7",
        b"7 ",
        b"7\n8",
        b"7; rm -rf ~",
        b"$(id)",
        b"12345678901",
        b"\xff\xfe7",
    ],
    ids=repr,
)
def test_comment_refuses_anything_but_a_number(
    comment_workflow: dict, tmp_path: Path, content: bytes
) -> None:
    result, outputs = validate(comment_workflow, tmp_path, content, pull_requests=[7])
    assert result.returncode != 0
    assert "refusing" in result.stdout
    assert outputs == {}


def test_comment_refuses_a_number_that_is_not_the_runs_pull_request(
    comment_workflow: dict, tmp_path: Path
) -> None:
    """Another PR's number: not in the run's list, and the API cannot vouch for it either."""
    result, outputs = validate(comment_workflow, tmp_path, b"8", pull_requests=[7])
    assert result.returncode != 0
    assert "does not match the run" in result.stdout
    assert outputs == {}


def test_comment_publishes_only_the_reports_own_plots(
    comment_workflow: dict, tmp_path: Path
) -> None:
    good = "## Report\n\n![roc curve](plots/roc_curve.png)\n[docs](https://example.com/x)\n"
    result, outputs = validate(
        comment_workflow, tmp_path / "a", b"7", images="publish", markdown=good
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert outputs["publish"] == "true"
    for bad in (
        "![x](../../../etc/passwd)",
        "![x](/home/runner/.ssh/id_rsa)",
        "[x](plots/missing.png)",
        "[ref]: /etc/hostname",
    ):
        result, outputs = validate(
            comment_workflow,
            tmp_path / str(abs(hash(bad))),
            b"7",
            images="publish",
            markdown=good + bad + "\n",
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert outputs["publish"] == "false", bad
        assert "not publishing any images" in result.stdout
    result, outputs = validate(comment_workflow, tmp_path / "c", b"7", images="yes please")
    assert outputs["publish"] == "false"
