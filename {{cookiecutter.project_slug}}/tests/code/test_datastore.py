"""Data versioning (datastore.py) with real DVC: a project, a local folder remote, a fresh clone.

No part of DVC is replaced: each test runs ``dvc add``, push and pull on files in a temporary
folder. (The template's own tests add an S3 remote served by moto on 127.0.0.1.)
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from {{ cookiecutter.module_name }}.cli import main
from {{ cookiecutter.module_name }}.data import SAMPLE_FILES, data_version, datastore, get_data
from {{ cookiecutter.module_name }}.errors import DataError, FormatError
from {{ cookiecutter.module_name }}.records import DataInfo

pytestmark = pytest.mark.code

DATA = "data/data.csv"


def dvc_project(root: Path, remote: Path) -> Path:
    """A DVC project without git (``dvc init --no-scm``) whose default remote is ``remote``."""
    from dvc.repo import Repo

    root.mkdir(parents=True, exist_ok=True)
    Repo.init(str(root), no_scm=True).close()
    datastore.set_remote(root, str(remote))
    return root


@pytest.fixture
def project(
    tmp_path: Path,
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
) -> Path:
    """A project with params, its data file and a local folder remote (tmp_path/remote)."""
    root = tmp_path / "project"
    make_project(base_params(), frame=make_frame(), root=root)
    return dvc_project(root, tmp_path / "remote")


def clone(project: Path, to: Path) -> Path:
    """What a fresh clone has: params and the pointer, no data file, no cache."""
    dvc_project(to, project.parent / "remote")
    shutil.copy(project / "params.yaml", to / "params.yaml")
    (to / "data").mkdir()
    shutil.copy(project / data_version.pointer_path(DATA), to / data_version.pointer_path(DATA))
    return to


def test_track_push_then_pull_in_a_fresh_clone_gives_the_same_bytes(
    project: Path, tmp_path: Path
) -> None:
    assert data_version.status(project, DATA).state == "untracked"
    version = datastore.track(project, DATA)
    data = (project / DATA).read_bytes()
    assert version.md5 == data_version.file_md5(project / DATA)
    assert version.size == len(data)
    assert data_version.status(project, DATA).state == "in-sync"
    datastore.push(project, DATA)

    fresh = clone(project, tmp_path / "clone")
    assert data_version.status(fresh, DATA).state == "missing"
    assert datastore.pull(fresh, DATA) == version
    assert (fresh / DATA).read_bytes() == data
    assert data_version.lineage_record(fresh, DATA) == {
        "pointer": f"{DATA}.dvc",
        "md5": version.md5,
        "committed": True,
    }


def test_a_version_that_was_never_pushed_is_one_line_and_writes_nothing(
    project: Path, tmp_path: Path
) -> None:
    datastore.track(project, DATA)
    fresh = clone(project, tmp_path / "clone")
    before = sorted(p.name for p in (fresh / "data").iterdir())
    with pytest.raises(DataError, match=r"^data/data\.csv: version \w{12} \(data/data\.csv\.dvc\)"):
        datastore.pull(fresh, DATA)
    assert sorted(p.name for p in (fresh / "data").iterdir()) == before


def test_make_data_keeps_local_changes_and_says_so(
    project: Path, make_project: Callable[..., Path], base_params: Callable[..., dict[str, Any]]
) -> None:
    datastore.track(project, DATA)
    with (project / DATA).open("a") as handle:
        handle.write((project / DATA).read_text().splitlines()[1] + "\n")
    edited = (project / DATA).read_bytes()
    params = project / "params.yaml"
    assert main(["data", "--params", str(params)]) == 0
    assert (project / DATA).read_bytes() == edited, "never overwritten"
    record = data_version.lineage_record(project, DATA)
    assert record is not None
    assert record["committed"] is False
    with pytest.raises(DataError, match=r"differs from the version data/data\.csv\.dvc names"):
        datastore.pull(project, DATA)


def test_a_missing_untracked_file_is_an_error_never_the_sample(
    tmp_path: Path,
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    params_file = make_project(base_params(data={"path": "data/mine.csv"}))
    before = sorted(tmp_path.rglob("*"))
    assert main(["data", "--params", str(params_file)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: data/mine.csv: file not found; not tracked by DVC either")
    assert f"`make sample` writes {SAMPLE_FILES['classification']}" in err
    assert err.count("\n") == 1
    assert sorted(tmp_path.rglob("*")) == before, "nothing written"
    assert main(["sample", "--params", str(params_file)]) == 0
    assert not (tmp_path / "data/mine.csv").exists()
    assert (tmp_path / "data/breast_cancer.csv").is_file()


def test_the_sample_is_written_only_to_its_own_file(
    tmp_path: Path, make_project: Callable[..., Path], base_params: Callable[..., dict[str, Any]]
) -> None:
    params = yaml.safe_load(
        make_project(base_params("regression", data={"path": "data/diabetes.csv"})).read_text()
    )
    from {{ cookiecutter.module_name }}.config import Params

    fetched = get_data(Params.model_validate(params), tmp_path)
    assert fetched.how == "sample"
    header = (tmp_path / "data/diabetes.csv").read_text().splitlines()[0]
    assert header.endswith(",target")


def test_a_fork_pr_without_data_gets_a_report_that_says_so(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    datastore.track(project, DATA)  # never pushed: what a fork's runner cannot pull
    fresh = clone(project, tmp_path / "clone")
    params = str(fresh / "params.yaml")
    assert main(["data", "--params", params]) == 2
    assert main(["data", "--params", params, "--fork-pr", "true"]) == 0
    report = (fresh / "artifacts/report/report.md").read_text()
    assert "**Data not available to fork PRs.**" in report
    assert not (fresh / DATA).exists(), "no substitute data"
    assert "data not available to fork PRs" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("s3://bucket/path; touch x", FormatError),
        ("http://example.com/data", FormatError),
        ("gs://bucket/path", DataError),  # the dvc-gs plugin is not in the lock
    ],
)
def test_set_remote_refuses_what_it_cannot_use(project: Path, url: str, error: type) -> None:
    config = (project / ".dvc/config").read_bytes()
    with pytest.raises(error):
        datastore.set_remote(project, url)
    assert (project / ".dvc/config").read_bytes() == config


def test_set_remote_writes_an_s3_remote_with_its_endpoint(project: Path) -> None:
    datastore.set_remote(project, "s3://team-data/churn", "http://127.0.0.1:9000")
    assert datastore.remote(project) == datastore.Remote(
        "storage", "s3://team-data/churn", "http://127.0.0.1:9000"
    )


@pytest.mark.parametrize(
    ("pr", "base", "expected"),
    [
        ({"dvc": None}, {"dvc": None}, "Data not versioned with DVC"),
        ({"dvc": {"md5": "a" * 32, "pointer": "d.dvc"}}, {"dvc": {"md5": "a" * 32}}, "unchanged"),
        (
            {"rows": 120, "dvc": {"md5": "b" * 32, "pointer": "d.dvc"}},
            {"rows": 100, "dvc": {"md5": "a" * 32}},
            "**Data version changed** (+20 rows: 100 on the base, 120 here): `aaaaaaaaaaaa`",
        ),
    ],
)
def test_report_lines_compare_the_data_versions(
    pr: dict[str, Any], base: dict[str, Any], expected: str
) -> None:
    data = DataInfo.model_validate({"path": DATA, **pr})
    (line,) = data_version.report_lines(data, DataInfo.model_validate({"path": DATA, **base}))
    assert expected in line


def test_a_worktree_of_another_commit_pulls_that_commits_version(
    tmp_path: Path, make_project: Callable[..., Path], base_params: Callable[..., dict[str, Any]]
) -> None:
    """The PR report's base run: a git worktree at the base commit gets the base's own data."""
    import subprocess

    from dvc.repo import Repo

    def git(*args: str, cwd: Path) -> None:
        subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)

    root = tmp_path / "repo"
    make_project(base_params(), csv_text="a,target\n1,0\n2,1\n", root=root)
    git("init", "--quiet", cwd=root)
    Repo.init(str(root)).close()
    datastore.set_remote(root, ".dvc-storage")
    (root / ".gitignore").write_text("/data/*\n!/data/*.dvc\n/.dvc-storage/\n")
    base = datastore.track(root, DATA)
    git("add", "-A", cwd=root)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base", cwd=root)
    base_bytes = (root / DATA).read_bytes()
    with (root / DATA).open("a") as handle:
        handle.write("3,0\n")
    datastore.track(root, DATA)  # the PR's version; only in the cache, never pushed

    worktree = tmp_path / "base"
    git("worktree", "add", "--quiet", "--detach", str(worktree), "HEAD", cwd=root)
    assert datastore.share_with_worktree(root, worktree, DATA)
    assert datastore.pull(worktree, DATA) == base
    assert (worktree / DATA).read_bytes() == base_bytes
