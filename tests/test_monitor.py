"""Drift monitoring end to end, in a baked project that is a real git repository.

The monitor workflow's drift job is run step by step (its `run:` steps in order, with the env the
workflow gives them; only GitHub's own `uses:` actions are skipped, and their list is asserted).
The scheduled run checks the default source, the stable example batch; then `make monitor` on the
drifted example batch and on a broken one, and `make retrain`, whose new model's lineage must
record the new training data, which never takes a batch twice, and which gives the data back
when the gates fail.
"""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest
import yaml

from conftest import Baked, bake
from workflow_runner import no_secrets, run_job

pytestmark = pytest.mark.e2e

WORKFLOW = ".github/workflows/monitor.yml"
#: `uses:` steps of the drift job that only exist on GitHub (the runner provides uv and git).
DRIFT_JOB_GITHUB_ONLY = ["actions/checkout", "astral-sh/setup-uv", "actions/upload-artifact"]
#: What `make batches` shifts in the drifted example batch of the classification sample.
SHIFTED = ["mean radius", "mean texture", "mean perimeter"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Baked:
    """The default (classification) project, baked with git, installed, example batches written.

    Every test can then run on its own, in any order.
    """
    project = bake(tmp_path_factory.mktemp("monitor"), git_init=True)
    project.run("make", "install", "batches")
    return project


def test_the_scheduled_drift_job_finds_the_default_source_stable(project: Baked, tmp_path: Path):
    """A scheduled run (no batch input: monitor.source in params): every run: step, in order."""
    context = {"inputs.batch": "", **no_secrets()}
    job = run_job(project.path, project.path / WORKFLOW, context, tmp_path, "drift")
    assert job.failed_step is None, "\n".join(job.logs)
    assert job.skipped == DRIFT_JOB_GITHUB_ONLY
    assert job.outputs == {"verdict": "stable", "retrain": "false"}
    summary = json.loads((project.path / "artifacts/monitor.json").read_text())
    assert summary["batch"]["source"] == "data/batches/stable.csv"
    assert summary["drifted_features"] == []
    assert (tmp_path / "step-summary.md").read_text().startswith("## Drift monitoring: ✅ stable")
    assert (project.path / "artifacts/monitor.html").stat().st_size < 2_000_000


def test_only_the_retrain_job_may_write_and_only_after_drift(project: Baked):
    doc = yaml.safe_load((project.path / WORKFLOW).read_text())
    drift, retrain = doc["jobs"]["drift"], doc["jobs"]["retrain"]
    assert doc["permissions"] == {}
    assert drift["permissions"] == {"contents": "read"}
    assert retrain["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert retrain["if"] == "needs.drift.outputs.retrain == 'true'"
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    uses = [s["uses"].split("@")[0] for s in retrain["steps"] if "uses" in s]
    assert uses[-1] == "peter-evans/create-pull-request"
    pr = retrain["steps"][-1]["with"]
    assert pr["body-path"] == "monitor-report/monitor.md"
    assert pr["branch"] != "main"
    runs = [s["run"] for s in retrain["steps"] if "run" in s]
    assert runs == ["make install", "make data", "make batches", "make retrain"]


def test_make_monitor_flags_the_drifted_batch_and_refuses_a_broken_one(project: Baked):
    drifted = project.run("make", "monitor", "CURRENT=data/batches/drifted.csv", check=False)
    assert "Error 3" in drifted.stderr, "the monitor's exit status 3 (drift), as make reports it"
    assert "verdict: drift" in drifted.stdout
    summary = json.loads((project.path / "artifacts/monitor.json").read_text())
    assert sorted(summary["drifted_features"]) == sorted(SHIFTED)
    assert f"drifted features: {', '.join(summary['drifted_features'])}" in drifted.stdout
    source = (project.path / "data/batches/stable.csv").read_text().splitlines()
    broken = project.path / "broken.csv"
    broken.write_text("\n".join(line.split(",", 1)[1] for line in source) + "\n")
    bad = project.run("make", "monitor", "CURRENT=broken.csv", check=False)
    assert "error: broken.csv: missing column(s) the model was trained on: 'mean" in bad.stderr
    assert "Error 2" in bad.stderr, "unusable input: the CLI's exit status 2"


def md5(path: Path) -> str:
    """DVC's content hash of a file."""
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


@pytest.fixture
def trained(tmp_path: Path) -> Baked:
    """A project of its own: retraining changes the training data the other tests compare with."""
    project = bake(tmp_path, git_init=True)
    project.run("make", "install", "batches", "train")
    return project


def test_make_retrain_adds_the_batch_once_and_gives_it_back_when_a_gate_fails(trained: Baked):
    project = trained
    lineage_file = project.path / "artifacts/lineage.json"
    before = json.loads(lineage_file.read_text())
    data = project.path / before["data"]["path"]
    data.chmod(0o600)
    project.run("make", "retrain", "CURRENT=data/batches/drifted.csv", "GIT_ADD=1")
    after = json.loads(lineage_file.read_text())
    assert after["data"]["rows"] == before["data"]["rows"] + 200
    assert after["data"]["sha256"] != before["data"]["sha256"]
    assert after["model"]["sha256"] != before["model"]["sha256"]
    ledger = f"{before['data']['path']}.batches.json"
    pointer = f"{before['data']['path']}.dvc"
    staged = project.run("git", "diff", "--cached", "--name-only").stdout.split()
    assert sorted(staged) == sorted([pointer, ledger]), "the DVC pointer and the ledger, for the PR"
    assert f"md5: {md5(data)}" in (project.path / pointer).read_text(), "names the new version"
    assert project.run("git", "check-ignore", "--quiet", before["data"]["path"]).returncode == 0
    pushed = project.path / ".dvc-storage" / "files" / "md5" / md5(data)[:2] / md5(data)[2:]
    assert pushed.read_bytes() == data.read_bytes(), "the new version is in the DVC remote"
    assert json.loads((project.path / "artifacts/checks.json").read_text())["passed"]
    assert stat.S_IMODE(data.stat().st_mode) == 0o600

    # The same batch again (a second run, a rerun after a kill): never appended twice.
    module = project.context["module_name"]
    again = project.run(
        "uv", "run", "python", "-m", module, "update-data", "--current=data/batches/drifted.csv"
    )
    assert "is already in" in again.stdout
    assert data.read_bytes().count(b"\n") == after["data"]["rows"] + 1

    # The stable batch is rows of the training data: appended, the duplicate gates fail.
    folded = data.read_bytes()
    failed = project.run("make", "retrain", "CURRENT=data/batches/stable.csv", check=False)
    assert failed.returncode != 0
    assert "a gate failed: restored" in failed.stdout
    assert data.read_bytes() == folded, "the data is as it was"
    assert stat.S_IMODE(data.stat().st_mode) == 0o600
    batches = json.loads((project.path / ledger).read_text())["batches"]
    assert [b["source"] for b in batches] == ["data/batches/drifted.csv"]
