"""The pull-request workflows, and hostile values through the workflows and make targets.

pr-report.yml: every `run:` step of its job is executed in order, with the env the workflow gives
it, in a baked project that is a real git repository (main plus feature branches pushed to a
local "origin"). Only steps that exist on GitHub alone (`uses:` actions) are skipped, and their
list is asserted: a new step that this test does not run fails it.

pr-comment.yml: its `make pr-comment` step runs on a hostile artifact (the generated project's
own tests hold the full hostile-artifact corpus against the code behind it).

Hostile values: the generated project's corpus (tests/conftest.py `hostile_values`) goes
through every make target a workflow calls, and through the workflows' run: steps that take a
tag, an input or a branch name, as the workflows pass them (env:); no canary file may appear.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shutil
import signal
import socket
import struct
import subprocess
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from conftest import Baked, bake, mermaid_blocks, parse_mermaid
from workflow_runner import Job, no_secrets, run_job

pytestmark = pytest.mark.e2e

#: `uses:` steps of pr-report.yml that only exist on GitHub (the runner provides git and uv).
PR_REPORT_GITHUB_ONLY = [
    "actions/checkout",
    "astral-sh/setup-uv",
    "actions/cache/restore",  # the base's saved run: the project folder keeps .base-run/ here
    "actions/upload-artifact",
]
PR_NUMBER = "7"
#: The expression pr-report.yml gives `make data` as FORK_PR.
FORK_PR = "github.event.pull_request.head.repo.full_name != github.repository"


def git(project: Baked, *args: str) -> str:
    return project.run("git", *args).stdout.strip()


def _section(markdown: str, title: str) -> str:
    match = re.search(rf"^### {re.escape(title)}\n(.*?)(?=^### |\Z)", markdown, re.M | re.S)
    assert match, f"no section {title!r} in the report"
    return match.group(1)


def _metric_rows(markdown: str) -> dict[str, list[str]]:
    """Test-set rows: metric, this PR, interval, base, change, verdict."""
    table = _section(markdown, "Metrics").split("<details>")[0]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()]
    return {r[0].split()[0]: r for r in rows if len(r) == 6 and r[1] not in ("This PR", "---:")}


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


@pytest.fixture(scope="module")
def mlflow_server(repo: Baked, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The team's tracking server: a real `mlflow server` on a free loopback port; its URI."""
    folder = tmp_path_factory.mktemp("mlflow")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [
        str(repo.path / ".venv/bin/mlflow"), "server",
        "--backend-store-uri", f"sqlite:///{folder / 'store.db'}",
        "--artifacts-destination", str(folder / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    with (folder / "server.log").open("w") as log:
        server = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=folder,
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},  # no workers
            start_new_session=True,  # stopping the group stops whatever the server started
        )
        uri = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 240  # a loaded runner takes a minute or more
            while not _answers(f"{uri}/health"):
                assert server.poll() is None, (folder / "server.log").read_text()
                assert time.monotonic() < deadline, "mlflow server did not start in 240 s"
                time.sleep(0.3)
            yield uri
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def tracking_secrets(uri: str = "") -> dict[str, str]:
    """The workflows' tracking secrets and the expression on them (empty: none, as for forks)."""
    return {
        "secrets.MLFLOW_TRACKING_URI": uri,
        "secrets.MLFLOW_TRACKING_TOKEN": "",
        "secrets.MLFLOW_TRACKING_URI && 'mlflow' || 'none'": "mlflow" if uri else "none",
    }


def pull_request(
    project: Baked,
    branch: str,
    edit: dict[str, object],
    tmp: Path,
    tracking_uri: str = "",
) -> Job:
    """Open a "pull request": branch off main, edit params.yaml, commit, run pr-report.yml.

    ``tracking_uri``: the repository's MLFLOW_TRACKING_URI secret (empty: none, as for forks).
    """
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
    context = {
        "github.base_ref": "main",
        "github.event.pull_request.number": PR_NUMBER,
        FORK_PR: "false",
        **no_secrets(),
        **tracking_secrets(tracking_uri),
    }
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


def test_pr_report_job_compares_with_main(repo: Baked, tmp_path: Path, mlflow_server) -> None:
    key, value = _hyperparameter(repo)
    job = pull_request(repo, "smaller-c", {key: value / 20}, tmp_path / "job", mlflow_server)
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
    intervals = json.loads((repo.path / "artifacts/diagnostics.json").read_text())["intervals"]
    for name, (_, pr_cell, interval_cell, base_cell, _, verdict) in rows.items():
        assert pr_cell == f"{pr_test[name]:.4f}"
        assert base_cell == f"{base_test[name]:.4f}"
        low, high = intervals[name]["low"], intervals[name]["high"]
        assert interval_cell == f"{low:.4f} to {high:.4f}"
        assert low <= pr_test[name] <= high
        if pr_test[name] == base_test[name]:
            assert verdict == "unchanged"
        elif low <= base_test[name] <= high:
            assert verdict.endswith("within noise"), (name, verdict)
        else:
            better = (pr_test[name] > base_test[name]) == (name in higher_is_better)
            assert verdict.endswith("better" if better else "worse"), (name, verdict)
    assert any(v[5] != "unchanged" for v in rows.values()), "C changed nothing?"

    # Charts GitHub draws from the text (no image upload): each one parses with mermaid itself.
    diagrams = mermaid_blocks(markdown)
    assert len(diagrams) >= 3, markdown  # metrics, ROC or residuals, importance
    # Labels are data (a team's column names): hostile ones still make diagrams that parse.
    hostile = ['a"b', "x]y", "``` fence", "semi;colon", "new\nline", "{curly}", "é 名", "-1e-09"]
    module = repo.context["module_name"]
    code = (
        f"import json, sys; from {module}.reporting import charts; "
        "names = json.loads(sys.argv[1]); "
        "print(json.dumps([charts.importance_chart([(n, 0.1) for n in names]), "
        "charts.comparison_chart('t\"]', names, [-0.5] * len(names), [1e-09] * len(names)), "
        "charts.histogram_chart('residuals', [-10.5, 0.0, 10.5], [3, 4]), "
        "charts.trend_chart('r2 on main', names[:2], [0.45, 0.46])]))"
    )
    made = repo.run(".venv/bin/python", "-c", code, json.dumps(hostile)).stdout
    extra = [mermaid_blocks(block + "\n")[0] for block in json.loads(made)]
    parsed = parse_mermaid(diagrams + extra)
    assert all(p["ok"] for p in parsed), list(zip(diagrams + extra, parsed, strict=True))
    assert {p["type"] for p in parsed} == {"xychart"}
    assert "### Per class (test set)" in markdown
    assert "Confusion matrix:" in _section(markdown, "Per class (test set)")
    # The base's gate values stand beside the PR's.
    assert "| Base value |" in _section(markdown, "Gates")
    # With the secret, the run went to the team's server and the report links to it.
    tracked = json.loads((repo.path / "artifacts/tracking.json").read_text())
    assert tracked["url"].startswith(f"{mlflow_server}/#/experiments/")
    assert f": {tracked['url']}" in _section(markdown, "Experiment tracking")
    run_api = f"{mlflow_server}/api/2.0/mlflow/runs/get?run_id={tracked['run_id']}"
    with urllib.request.urlopen(run_api, timeout=10) as response:
        run = json.load(response)["run"]
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["git.branch"] == "smaller-c"
    assert tags["gates.passed"] == "true"  # the gates step added its verdict to the run
    # main has no tracked runs on this server yet (CD logs them): the history says so.
    assert "History of `main`: no tracked runs yet." in _section(markdown, "Experiment tracking")
    # The report says in which mode the full gate report was written.
    assert "mode" in _section(markdown, "Full gate report")
    changed = _section(markdown, "Parameters changed from the base")
    assert f"| `{key}` | `{value}` | `{value / 20}` |" in changed
    assert "Data unchanged" in _section(markdown, "Data")

    # The base is main's own run, retrained in a worktree that is gone again.
    base_lineage = json.loads((repo.path / "artifacts/base/lineage.json").read_text())
    assert base_lineage["git"]["commit"] == main_sha
    assert git(repo, "worktree", "list").count("\n") == 0

    # The report names its plots; whether they are published is the comment job's decision.
    plots = sorted(p.name for p in (report_dir / "plots").glob("*.png"))
    assert plots
    assert all(f"`plots/{name}`" in markdown for name in plots)
    assert "![" not in markdown
    assert not (report_dir / "images.txt").exists()
    assert (report_dir / "pr-number.txt").read_text() == f"{PR_NUMBER}\n"
    assert (report_dir / "checks.html").is_file()


def test_pr_report_job_reports_a_failing_gate_then_fails(repo: Baked, tmp_path: Path) -> None:
    # ci.yml on main saved main's run (.base-run/, gitignored: on GitHub the Actions cache
    # carries it, here the folder stays): the report reuses it instead of retraining main.
    git(repo, "checkout", "--quiet", "main")
    ci = repo.path / ".github/workflows/ci.yml"
    (tmp_path / "main").mkdir()
    main_job = run_job(repo.path, ci, no_secrets(), tmp_path / "main", "base-run")
    assert main_job.failed_step is None, "\n".join(main_job.logs)
    assert main_job.skipped == ["actions/checkout", "astral-sh/setup-uv", "actions/cache/save"]
    key, value = _hyperparameter(repo)
    job = pull_request(repo, "broken-model", {key: value * 1e-6}, tmp_path / "job")
    log = "\n".join(job.logs)
    main_sha = git(repo, "rev-parse", "origin/main")
    assert f"the saved run of the merge base {main_sha[:7]} (no retraining)" in log, log
    assert not (repo.path / "artifacts/base/build.log").exists(), "the base was retrained"
    base_lineage = json.loads((repo.path / "artifacts/base/lineage.json").read_text())
    assert base_lineage["git"] == {"commit": main_sha, "dirty": False}
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
    assert any("❌" in v[5] for v in _metric_rows(markdown).values())
    # No tracking secret (a fork's PR): nothing was tracked, and the report has no such section.
    assert not (repo.path / "artifacts/tracking.json").exists()
    assert "### Experiment tracking" not in markdown


# --- pr-comment.yml --------------------------------------------------------------------------

COMMENT_WORKFLOW = ".github/workflows/pr-comment.yml"
COMMENT_STEP = "Check the report and write the comment"
HEAD_SHA = "0123456789abcdef0123456789abcdef01234567"
REPOSITORY = "example-owner/example-repo"


def test_comment_workflow_never_runs_pr_code(repo: Baked) -> None:
    doc = yaml.safe_load((repo.path / COMMENT_WORKFLOW).read_text())
    (job,) = doc["jobs"].values()
    uses = [s["uses"].split("@")[0] for s in job["steps"] if "uses" in s]
    assert uses == ["actions/checkout", "actions/download-artifact", "iterative/setup-cml"]
    checkout = job["steps"][0]["with"]
    assert checkout == {
        "ref": "${{ github.event.repository.default_branch }}",
        "persist-credentials": False,
    }
    assert doc["permissions"] == {}
    assert job["permissions"] == {"actions": "read", "contents": "read", "pull-requests": "write"}
    runs = [s["run"] for s in job["steps"] if "run" in s]
    assert runs[0] == "make pr-comment"
    assert "make" not in runs[1]
    assert "python" not in runs[1]
    assert "--no-publish" in runs[1], "CML uploads nothing the markdown points to"
    assert "cml asset publish" in runs[1], "only the plots make pr-comment re-encoded"
    assert job["steps"][-1]["env"]["ITERATIVE_DO_NOT_TRACK"] == "true"


def _png() -> bytes:
    """A valid 1x1 grey PNG."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        [chunk(b"IHDR", header), chunk(b"IDAT", zlib.compress(b"\x00\x80")), chunk(b"IEND", b"")]
    )


def _hostile_artifact(temp: Path, secret: Path) -> None:
    """A pr-report artifact a fork could upload: links to a secret, a plot linked to it."""
    report = temp / "pr-report"
    (report / "plots").mkdir(parents=True)
    (report / "report.md").write_text(
        f"## Model report\n\n[x](\n{secret})\n![y][s]\n\n[s]: {secret}\n<img src={secret}>\n"
    )
    (report / "pr-number.txt").write_text(f"{PR_NUMBER}\n")
    (report / "plots" / "roc_curve.png").symlink_to(secret)
    (report / "plots" / "confusion_matrix.png").write_bytes(_png())


@pytest.mark.parametrize(
    ("head_repository", "published"),
    [(REPOSITORY, ["confusion_matrix.png"]), ("a-fork/example-repo", [])],
    ids=["same-repository", "fork"],
)
def test_the_comment_step_turns_a_hostile_artifact_into_data(
    repo: Baked, tmp_path: Path, head_repository: str, published: list[str]
) -> None:
    """The workflow's own step on the default branch's code: only re-encoded plots, no links."""
    secret = tmp_path / "secret.txt"
    secret.write_text("token-of-the-comment-job")
    _hostile_artifact(tmp_path, secret)
    context = {
        "runner.temp": str(tmp_path),
        "toJSON(github.event.workflow_run.pull_requests)": json.dumps([{"number": 7}]),
        "github.event.workflow_run.head_sha": HEAD_SHA,
        "github.event.workflow_run.head_repository.full_name": head_repository,
        "github.token": "",
    }
    runner = tmp_path / "runner"
    runner.mkdir()
    job = run_job(
        repo.path,
        repo.path / COMMENT_WORKFLOW,
        context,
        runner,
        only=[COMMENT_STEP],
        runner_env={"GITHUB_REPOSITORY": REPOSITORY},
    )
    assert job.outcomes == {COMMENT_STEP: "success"}, "\n".join(job.logs)
    assert job.outputs == {}  # the job declares none; the step's outputs:
    outputs = (runner / "output-2").read_text().splitlines()
    assert outputs == [f"number={PR_NUMBER}", f"publish={'true' if published else 'false'}"]
    comment = tmp_path / "comment"
    markdown = (comment / "comment.md").read_text()
    assert not re.search(r"(?<!\\)\]\(", markdown), "no link or image is left"
    assert "<img" not in markdown
    assert sorted(p.name for p in (comment / "plots").glob("*.png")) == published
    for written in comment.rglob("*"):
        if written.is_file():
            assert b"token-of-the-comment-job" not in written.read_bytes()


# --- hostile values --------------------------------------------------------------------------

#: Every make target a workflow calls, and the variables the workflows give it (env:).
WORKFLOW_TARGETS = {
    "check-ref": ("REF", "DEFAULT_BRANCH"),
    "promote": ("VERSION", "STAGE"),
    "deploy": ("STAGE", "VERSION", "DEFAULT_BRANCH"),
    "register": ("VERSION", "BUMP"),
    "publish-image": ("IMAGE", "TAG"),
    "publish-release": ("VERSION",),
    "monitor": ("CURRENT",),
    "retrain": ("CURRENT",),
    "report": ("BASE",),
    "predict": ("INPUT", "OUTPUT", "REJECTS", "ID_COLUMN", "STAGE", "SCHEDULER"),
    "stage-version": ("STAGE",),
    "tune": ("TRIALS", "STORAGE", "WORKER"),
    "pr-comment": ("REPORT_DIR", "HEAD_SHA", "HEAD_REPOSITORY", "PULL_REQUESTS"),
}


def hostile_corpus(project: Baked) -> Callable[[Path], dict[str, str]]:
    """The generated project's corpus of hostile values (its tests/conftest.py)."""
    return runpy.run_path(str(project.path / "tests" / "conftest.py"))["hostile_values"]


def make_with(
    project: Baked, targets: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess:
    """`make -k TARGETS` with ``env`` as a workflow's env: gives it (trained artifacts kept)."""
    return subprocess.run(
        ["make", "--keep-going", "-o", "artifacts/lineage.json", *targets],
        cwd=project.path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_hostile_values_stay_data_in_every_make_target_a_workflow_calls(
    repo: Baked, tmp_path: Path
) -> None:
    """Each target gets every technique at once (one value of the whole corpus, joined)."""
    canary = tmp_path / "canary"
    value = "".join(hostile_corpus(repo)(canary).values())
    variables = {name for names in WORKFLOW_TARGETS.values() for name in names}
    result = make_with(repo, list(WORKFLOW_TARGETS), dict.fromkeys(variables, value))
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == len(WORKFLOW_TARGETS), result.stderr[-4000:]
    assert not canary.exists(), result.stderr[-4000:]
    # `make data` on its own: other targets above depend on it, so its failure would hide theirs.
    result = make_with(repo, ["data"], {"FORK_PR": value})
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr[-4000:]
    assert "--fork-pr" in errors[0]
    assert not canary.exists(), result.stderr[-4000:]


def test_the_issue_reproductions_are_refused_cleanly(repo: Baked, tmp_path: Path) -> None:
    """Each value of the corpus through `make check-ref` and `make promote` (the issue's own)."""
    canary = tmp_path / "canary"
    for name, value in hostile_corpus(repo)(canary).items():
        result = make_with(repo, ["check-ref", "promote"], {"REF": value, "STAGE": value})
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 2, (name, result.stderr[-3000:])
        assert not canary.exists(), name
    promote = subprocess.run(
        ["make", "-n", "promote", f'STAGE=prod" ; touch {canary} ; echo "'],
        cwd=repo.path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--push" in promote.stdout, "PUSH=1 still pushes: no value drops an option"


PR_REPORT_STEP = "Build the report (compared with the base branch)"
#: Workflow steps that take outside values: (workflow, job, step, context key of the value).
HOSTILE_STEPS = [
    ("release.yml", "decide", "gto check-ref", "github.ref_name"),
    ("monitor.yml", "drift", "Check the batch for drift", "inputs.batch"),
    ("pr-report.yml", "report", PR_REPORT_STEP, "github.base_ref"),
]


@pytest.mark.parametrize(("workflow", "job", "step", "key"), HOSTILE_STEPS, ids=lambda x: x)
def test_hostile_values_stay_data_in_the_workflows_run_steps(
    repo: Baked, tmp_path: Path, workflow: str, job: str, step: str, key: str
) -> None:
    canary = tmp_path / "canary"
    context = {
        "github.event.repository.default_branch": "main",
        "github.token": "",
        **no_secrets(),
        **tracking_secrets(),
    }
    for name, value in hostile_corpus(repo)(canary).items():
        runner = tmp_path / name.replace(" ", "-")
        runner.mkdir()
        ran = run_job(
            repo.path,
            repo.path / ".github/workflows" / workflow,
            {**context, key: value},
            runner,
            job,
            only=[step],
        )
        assert ran.outcomes == {step: "failure"}, (name, ran.logs)
        assert "error: " in ran.logs[0], (name, ran.logs)
        assert not canary.exists(), (name, ran.logs)
