"""Data versioning with DVC in a baked project, against real remotes on this machine.

One baked project (a git repository) tracks its data with `make track`, then fresh clones get it
back with `make data`: from the default local folder remote, and from an S3 remote served by a
real moto server on 127.0.0.1 (`make remote URL=s3://... ENDPOINT=...`). The bytes must be
identical; a version the remote lacks, missing credentials and an unreachable remote are each one
`error:` line with nothing written. A fork's pull request (no secrets) gets the "data not
available" report from the PR workflow's own steps, and never the sample.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Baked, bake
from workflow_runner import no_secrets, run_job

pytestmark = pytest.mark.e2e

DATA = "data/breast_cancer.csv"
POINTER = f"{DATA}.dvc"
BUCKET = "team-data"
#: What a machine without AWS credentials looks like to botocore (no files, no instance role).
NO_AWS = {
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws/credentials",
    "AWS_CONFIG_FILE": "/nonexistent/aws/config",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_MAX_ATTEMPTS": "1",  # one connection attempt to an unreachable endpoint, not five
}
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "moto", "AWS_SECRET_ACCESS_KEY": "moto-secret"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """A real S3 server (moto) on 127.0.0.1 with an empty bucket; yields its endpoint URL."""
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).close()
                break
            except OSError:
                assert server.poll() is None, "moto_server exited"
                assert time.monotonic() < deadline, "moto_server did not answer in 60 s"
                time.sleep(0.2)
        request = urllib.request.Request(f"{endpoint}/{BUCKET}", method="PUT")
        urllib.request.urlopen(request, timeout=10).close()  # create the bucket
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Baked:
    """The default project, installed, its data tracked with DVC and the pointer committed."""
    project = bake(tmp_path_factory.mktemp("versioning"), git_init=True)
    tracked = project.run("make", "install", "data", "track")
    assert f"[track] {DATA}: DVC version" in tracked.stdout
    status = project.run("git", "status", "--porcelain").stdout.split("\n")
    assert "?? data/" in status, "the pointer is new, the data file stays ignored"
    project.run("git", "add", "data")
    staged = project.run("git", "diff", "--cached", "--name-only").stdout.split()
    assert staged == [POINTER], "git add data stages the pointer, never the data"
    project.run("git", "commit", "--quiet", "-m", "Track the data with DVC")
    return project


@pytest.fixture(scope="module")
def fresh(project: Baked, tmp_path_factory: pytest.TempPathFactory) -> Baked:
    """A clone of ``project`` (its own environment); each test first empties its data and cache."""
    to = tmp_path_factory.mktemp("clone") / "my-ml-project"
    subprocess.run(["git", "clone", "--quiet", str(project.path), str(to)], check=True)
    clone = Baked(to, project.context)
    clone.run("make", "install")
    return clone


def as_fresh(clone: Baked) -> Baked:
    """The clone as a fresh checkout of its origin's HEAD: no data file, no DVC cache."""
    clone.run("git", "checkout", "--quiet", "--", ".dvc/config")
    clone.run("git", "pull", "--quiet", "--ff-only")
    (clone.path / DATA).unlink(missing_ok=True)
    shutil.rmtree(clone.path / ".dvc" / "cache", ignore_errors=True)
    return clone


def make_data(project: Baked, **env: str) -> subprocess.CompletedProcess:
    return project.run("make", "data", check=False, env={**os.environ, **NO_AWS, **env})


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def one_error(result: subprocess.CompletedProcess) -> str:
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode != 0
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "WARNING" not in result.stderr, "DVC's own log output is not shown"
    return errors[0]


def test_local_remote_round_trip_from_a_fresh_clone(project: Baked, fresh: Baked) -> None:
    fresh = as_fresh(fresh)
    before = files_under(fresh.path / "data")
    # The clone's default remote is a folder of its own checkout: empty, so the version is
    # missing there. One line, nothing written, never the sample.
    error = one_error(make_data(fresh))
    assert error.startswith(f"error: {DATA}: version ")
    assert "is neither in the local cache nor in the DVC remote 'storage'" in error
    assert files_under(fresh.path / "data") == before
    # The project's folder remote, set with the documented command.
    fresh.run("make", "remote", f"URL={project.path / '.dvc-storage'}")
    pulled = make_data(fresh)
    assert pulled.returncode == 0, pulled.stderr
    assert "pulled the version its DVC pointer names" in pulled.stdout
    assert (fresh.path / DATA).read_bytes() == (project.path / DATA).read_bytes()


def test_s3_round_trip_and_one_line_errors(project: Baked, fresh: Baked, s3: str) -> None:
    project.run("make", "remote", f"URL=s3://{BUCKET}/my-ml-project", f"ENDPOINT={s3}")
    pushed = project.run("make", "push", env={**os.environ, **NO_AWS, **CREDENTIALS})
    assert "is in the DVC remote" in pushed.stdout
    project.run("git", "commit", "--quiet", "-am", "The team's S3 remote")
    fresh = as_fresh(fresh)
    before = files_under(fresh.path / "data")

    error = one_error(make_data(fresh))  # no credentials at all
    assert error.startswith(f"error: {DATA}: cannot pull from the DVC remote 'storage' (s3://")
    assert "Unable to locate credentials" in error
    assert files_under(fresh.path / "data") == before

    nobody = f"ENDPOINT=http://127.0.0.1:{free_port()}"  # nothing listens there
    fresh.run("make", "remote", f"URL=s3://{BUCKET}/my-ml-project", nobody)
    error = one_error(make_data(fresh, **CREDENTIALS))
    assert "Could not connect to the endpoint URL" in error
    assert files_under(fresh.path / "data") == before

    fresh.run("git", "checkout", "--quiet", "--", ".dvc/config")
    pulled = make_data(fresh, **CREDENTIALS)
    assert pulled.returncode == 0, pulled.stderr
    assert (fresh.path / DATA).read_bytes() == (project.path / DATA).read_bytes()


def test_a_fork_pr_gets_the_data_not_available_report(fresh: Baked, tmp_path: Path) -> None:
    """The PR workflow's own steps in a fresh clone whose remote has no copy (a fork's runner)."""
    fresh = as_fresh(fresh)
    fresh.run("make", "remote", f"URL={tmp_path / 'empty'}")  # a remote without this version
    context = {
        "github.event.pull_request.head.repo.full_name != github.repository": "true",
        "github.event.pull_request.number": "7",
        **no_secrets(),
    }
    steps = [
        "Get the data (DVC pull; a fork PR gets no secrets, so no data and a report saying so)",
        "Record the pull request number for the comment workflow",
        "Fail if a gate failed",
    ]
    runner = tmp_path / "runner"
    runner.mkdir()
    context["steps.data.outputs.available"] = ""  # filled in by the data step
    context["steps.gates.outcome"] = "skipped"
    job = run_job(
        fresh.path, fresh.path / ".github/workflows/pr-report.yml", context, runner, only=steps
    )
    assert job.outcomes == dict(zip(steps, ["success", "success", "failure"], strict=True))
    assert "Data not available to fork PRs" in job.logs[-1]
    report = (fresh.path / "artifacts/report/report.md").read_text()
    assert "**Data not available to fork PRs.**" in report
    assert not (fresh.path / DATA).exists(), "never the sample"
