"""Release: GTO tags in a real git repository (with a bare origin), guards, deploy manifests.

The artifacts are written as training and the gates write them (the same fingerprints), without
running them: what is tested is the guards around the tags.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from {{ cookiecutter.module_name }}.artifacts import sha256_file
from {{ cookiecutter.module_name }}.cli import main as cli_main
from {{ cookiecutter.module_name }}.config import load_params
from {{ cookiecutter.module_name }}.errors import ReleaseError
from {{ cookiecutter.module_name }}.pipeline.lineage import params_sha256
from {{ cookiecutter.module_name }}.quality.check_record import record_fields
from {{ cookiecutter.module_name }}.records import Lineage
from {{ cookiecutter.module_name }}.release import deploy, guards, registry
from {{ cookiecutter.module_name }}.release import tags as release
from {{ cookiecutter.module_name }}.reporting import model_card

pytestmark = pytest.mark.code

PROJECT = Path(__file__).resolve().parents[2]
# The test repositories take the project's own name, so that its deploy/ manifests fit them as
# they are (no renaming: a name like `data` also occurs in YAML keys such as `metadata:`).
NAME = registry.model_name(PROJECT)
DIGESTS = {n: f"sha256:{n * 64}" for n in "abcdef"}
IMAGE = "ghcr.io/acme/demo-model"
KUBECTL = shutil.which("kubectl")
HAS_DEPLOY = (PROJECT / "deploy" / "base" / "kustomization.yaml").is_file()
# The Kubernetes version whose API schemas the rendered deploy/ objects must fit (strict: an
# unknown field fails too); kubernetes-validate ships the schemas of 1.25 to 1.37, offline.
KUBERNETES_VERSION = "1.33"


def schema_errors(objects: list[dict[str, Any]]) -> list[str]:
    """What the Kubernetes API schema says against each object; empty when all fit."""
    import kubernetes_validate  # with jsonschema, ~1.2 s to import: only the tests that check

    errors = []
    for document in objects:
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = ".".join(str(part) for part in error.path)
            errors.append(f"{document['kind']} {where}: {error.message}")
    return errors


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def tags(repo: Path) -> set[str]:
    return set(git(repo, "tag", "--list").split())


def remote_tags(repo: Path) -> set[str]:
    out = git(repo, "ls-remote", "--tags", "origin")
    return {line.split("refs/tags/")[1] for line in out.splitlines() if "^{}" not in line}


def next_second() -> None:
    """Wait for the next wall-clock second: GTO orders same-stage tags by their (1 s) timestamps."""
    time.sleep(1.02 - time.time() % 1)


def write_artifacts(
    repo: Path, passed: bool = True, commit: str | None = None, model: bytes | None = None
) -> dict[str, Any]:
    """A run as `make train check` writes it, for HEAD by default: model, lineage, gate record.

    Every fingerprint matches the repository's params.yaml and data file; returns the record.
    """
    params = load_params(repo / "params.yaml")
    commit = commit or git(repo, "rev-parse", "HEAD")
    artifacts = repo / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "model.joblib").write_bytes(model or f"model trained at {commit}".encode())
    metrics = {"task": "classification", "train": {"accuracy": 0.99}, "test": {"accuracy": 0.95}}
    lineage = {
        "project": NAME,
        "model_name": NAME,
        "started_at": "2026-01-01T00:00:00+00:00",
        "finished_at": "2026-01-01T00:00:05+00:00",
        "git": {"commit": commit, "dirty": False},
        "task": "classification",
        "seed": 42,
        "params": params.to_dict(),
        "params_sha256": params_sha256(params),
        "data": {
            "path": params.data.path,
            "sha256": sha256_file(repo / params.data.path),
            "rows": 100,
            "columns": 3,
            "train_rows": 80,
            "test_rows": 20,
            "target": "target",
            "features": [
                {"name": "age", "kind": "numeric", "dtype": "float64", "min": 1, "max": 9},
                {"name": "city", "kind": "categorical", "dtype": "object", "categories": ["a"]},
            ],
            "classes": [0, 1],
        },
        "metrics": metrics,
        "packages": {"python": "3.11.7", "scikit-learn": "1.5.2"},
        "model": {
            "path": "artifacts/model.joblib",
            "type": "logistic_regression",
            "sha256": sha256_file(artifacts / "model.joblib"),
        },
    }
    gates = [
        {"name": "accuracy", "suite": "model", "value": 0.95, "threshold": 0.9, "passed": passed}
    ]
    (artifacts / "lineage.json").write_text(json.dumps(lineage))
    (artifacts / "checks.html").write_text(f"<html>gates of {commit}</html>")
    record = {"passed": passed, "gates": gates} | record_fields(
        Lineage.model_validate(lineage), params
    )
    record["html_sha256"] = sha256_file(artifacts / "checks.html")
    (artifacts / "checks.json").write_text(json.dumps(record))
    return record


def commit_change(repo: Path, text: str) -> str:
    (repo / "model.txt").write_text(text)
    git(repo, "add", "model.txt")
    git(repo, "commit", "--quiet", "-m", text)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(
    tmp_path: Path,
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
) -> Path:
    """A project repository with one commit, trained artifacts and a bare origin."""
    origin, work = tmp_path / "origin.git", tmp_path / "work"
    subprocess.run(["git", "init", "--quiet", "--bare", str(origin)], check=True)
    make_project(base_params(), frame=make_frame(rows=100), root=work)
    git(work, "init", "--quiet", "-b", "main")
    git(work, "config", "user.name", "Test")
    git(work, "config", "user.email", "test@example.com")
    git(work, "remote", "add", "origin", str(origin))
    (work / "pyproject.toml").write_text(
        f'[project]\nname = "{NAME}"\nversion = "0.1.0"\n'
        'description = "Predicts whether a demo customer churns."\n'
    )
    (work / ".gitignore").write_text("artifacts/\ndata/\n")
    shutil.copy(PROJECT / ".gto", work / ".gto")  # the project's stages
    if HAS_DEPLOY:
        shutil.copytree(PROJECT / "deploy", work / "deploy", ignore=shutil.ignore_patterns("image"))
    git(work, "add", ".")
    git(work, "commit", "--quiet", "-m", "init")
    git(work, "push", "--quiet", "origin", "main")
    write_artifacts(work)
    return work


def _version(found: registry.Assignment | registry.Version | None) -> str:
    """The version of a stage assignment or registered version that must exist."""
    assert found is not None
    return found.version


def register(repo: Path, **options: Any) -> registry.Version:
    """Register HEAD with the repository's own params (what `make register` does)."""
    return release.register(repo, load_params(repo / "params.yaml"), **options)


def cli(repo: Path, *args: str) -> int:
    return cli_main(["release", "--params", str(repo / "params.yaml"), *args])


def refused(repo: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run a command that must be refused: exit 2, one `error:` line, no tag created."""
    before = tags(repo)
    capsys.readouterr()
    assert cli(repo, *args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: ")
    assert tags(repo) == before
    return err[0]


def gto_show(repo: Path) -> dict[str, Any]:
    """The real `gto show --json`, in-process (its CLI app)."""
    from click.testing import CliRunner
    from gto.cli import app

    result = CliRunner().invoke(app, ["show", "--json", "--repo", str(repo)])
    assert result.exit_code == 0, result.output
    shown: dict[str, dict[str, Any]] = json.loads(result.output)
    return shown[NAME]


def rendered_image(repo: Path, stage: str) -> str:
    """Deploy STAGE (dry run) and return the image of the Deployment in the rendered overlay."""
    assert cli(repo, "deploy", "--stage", stage, "--dry-run") == 0
    overlay = repo / "deploy" / "overlays" / stage
    assert KUBECTL, "callers deploy with kubectl installed only"
    out = subprocess.run(
        [KUBECTL, "kustomize", str(overlay)], check=True, capture_output=True, text=True
    ).stdout
    (deployment,) = [d for d in yaml.safe_load_all(out) if d["kind"] == "Deployment"]
    assert deployment["metadata"]["namespace"] == f"{NAME}-{stage}"
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return str(container["image"])


def assert_state(repo: Path, stages: dict[str, str], images: dict[str, str]) -> None:
    """Check what runs where three ways: our state, `gto show`, the rendered manifests."""
    state = registry.read_state(repo)
    assert {s: _version(state.current(s)) for s in stages} == stages
    assert {s: v for s, v in gto_show(repo)["stage"].items() if v} == stages
    if HAS_DEPLOY and KUBECTL:
        for stage, version in stages.items():
            assert rendered_image(repo, stage) == images[version]
    assert tags(repo) == remote_tags(repo)  # everything was pushed


def test_register_promote_rollback_lifecycle(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = {"v0.1.0": f"{IMAGE}@{DIGESTS['a']}", "v0.1.1": f"{IMAGE}@{DIGESTS['b']}"}

    assert cli(repo, "register", "--image", images["v0.1.0"], "--push") == 0
    assert f"registered {NAME}@v0.1.0" in capsys.readouterr().out
    assert tags(repo) == {f"{NAME}@v0.1.0"}
    message = git(repo, "tag", "-l", "--format=%(contents)", f"{NAME}@v0.1.0")
    assert f"image: {images['v0.1.0']}" in message
    assert gto_show(repo)["version"] == "v0.1.0"

    assert cli(repo, "promote", "--version", "v0.1.0", "--stage", "staging", "--push") == 0
    assert tags(repo) == {f"{NAME}@v0.1.0", f"{NAME}#staging#1"}
    assert_state(repo, {"staging": "v0.1.0"}, images)

    assert cli(repo, "promote", "--version", "v0.1.0", "--stage", "prod", "--push") == 0
    assert f"{NAME}#prod#2" in tags(repo)
    assert_state(repo, {"staging": "v0.1.0", "prod": "v0.1.0"}, images)

    commit_change(repo, "second model")
    git(repo, "push", "--quiet", "origin", "main")  # merged: on the default branch
    write_artifacts(repo)
    assert cli(repo, "register", "--image", images["v0.1.1"], "--push") == 0
    assert f"{NAME}@v0.1.1" in tags(repo)
    next_second()
    assert cli(repo, "promote", "--version", "v0.1.1", "--stage", "staging", "--push") == 0
    next_second()
    assert cli(repo, "promote", "--version", "v0.1.1", "--stage", "prod", "--push") == 0
    assert_state(repo, {"staging": "v0.1.1", "prod": "v0.1.1"}, images)

    next_second()
    capsys.readouterr()
    assert cli(repo, "rollback", "--stage", "prod", "--push") == 0
    assert f"rolled prod back from v0.1.1 to v0.1.0 ({NAME}#prod#5)" in capsys.readouterr().out
    assert_state(repo, {"staging": "v0.1.1", "prod": "v0.1.0"}, images)

    assert cli(repo, "status") == 0
    table = capsys.readouterr().out
    assert f"prod     v0.1.0     {NAME}#prod#5" in table
    assert images["v0.1.0"] in table
    assert images["v0.1.1"] in table


def test_register_defaults_to_next_patch_or_given_part(repo: Path) -> None:
    assert register(repo).version == "v0.1.0"
    commit_change(repo, "two")
    write_artifacts(repo)
    assert register(repo, part="minor").version == "v0.2.0"
    commit_change(repo, "three")
    write_artifacts(repo)
    assert register(repo, version="1.0.0").version == "v1.0.0"
    commit_change(repo, "four")
    write_artifacts(repo)
    assert register(repo).version == "v1.0.1"
    commit_change(repo, "a release candidate")
    write_artifacts(repo)
    assert register(repo, version="1.1.0-rc.1").version == "v1.1.0-rc.1"  # GTO's semver
    commit_change(repo, "the release")
    write_artifacts(repo)
    assert register(repo, version="v1.1.0").version == "v1.1.0"  # higher than its candidate
    assert _version(registry.read_state(repo).latest()) == "v1.1.0"


def test_register_reads_the_image_recorded_by_publish_image(repo: Path) -> None:
    ref = f"{IMAGE}@{DIGESTS['c']}"
    (repo / "artifacts" / "image.json").write_text(json.dumps({"ref": ref}))
    assert register(repo).image == ref


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("modify", (), "the working tree is dirty (model.txt"),
        ("untracked", (), "the working tree is dirty (new.txt"),
        ("no-checks", (), "artifacts/checks.json not found: run `make check`"),
        ("no-lineage", (), "artifacts/lineage.json not found: run `make train`"),
        ("failed", (), "the gates did not pass: accuracy"),
        ("stale", (), "the artifacts were trained on commit 000000000000"),
        ("none", ("--version", "1.0"), "version '1.0' is not semantic"),
        ("none", ("--version", "v1.2"), "is not semantic"),
        ("none", ("--version", "v01.2.3"), "is not semantic"),
        ("none", ("--bump", "huge"), None),
    ],
)
def test_register_guards(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    setup: str,
    args: tuple[str, ...],
    message: str | None,
) -> None:
    commit_change(repo, "tracked")
    write_artifacts(repo)
    if setup == "modify":
        (repo / "model.txt").write_text("changed")
    elif setup == "untracked":
        (repo / "new.txt").write_text("new")
    elif setup == "no-checks":
        (repo / "artifacts" / "checks.json").unlink()
    elif setup == "no-lineage":
        (repo / "artifacts" / "lineage.json").unlink()
    elif setup == "failed":
        write_artifacts(repo, passed=False)
    elif setup == "stale":
        write_artifacts(repo, commit="0" * 40)
    if message is None:  # argparse refuses the choice itself
        with pytest.raises(SystemExit):
            cli(repo, "register", *args)
        assert tags(repo) == set()
        return
    assert message in refused(repo, capsys, "register", *args)


def test_register_refuses_existing_lower_and_same_commit(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(repo, "register", "--version", "v0.2.0") == 0
    assert "already registered as v0.2.0" in refused(repo, capsys, "register")
    commit_change(repo, "next")
    write_artifacts(repo)
    assert f"tag {NAME}@v0.2.0 already exists" in refused(
        repo, capsys, "register", "--version", "v0.2.0"
    )
    assert "v0.1.9 is not higher than the latest registered v0.2.0" in refused(
        repo, capsys, "register", "--version", "v0.1.9"
    )


def test_failed_push_leaves_no_tag(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(repo, "remote", "set-url", "origin", str(repo.parent / "missing.git"))
    assert f"could not push {NAME}@v0.1.0 to origin" in refused(repo, capsys, "register", "--push")


def test_promote_and_rollback_guards(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "nothing to roll back: no version was ever assigned to prod" in refused(
        repo, capsys, "rollback", "--stage", "prod"
    )
    assert "version v0.1.0 is not registered (registered: none)" in refused(
        repo, capsys, "promote", "--version", "v0.1.0", "--stage", "staging"
    )
    register(repo)
    message = refused(repo, capsys, "promote", "--version", "v0.1.0", "--stage", "production")
    assert "stage 'production' (expected one of staging, prod, as listed in .gto)" in message
    assert "unknown stage 'dev'" in refused(repo, capsys, "rollback", "--stage", "dev")
    assert "version 'latest' is not semantic" in refused(
        repo, capsys, "promote", "--version", "latest", "--stage", "prod"
    )
    assert "v9.9.9 is not registered (registered: v0.1.0)" in refused(
        repo, capsys, "promote", "--version", "v9.9.9", "--stage", "prod"
    )
    release.promote(repo, "v0.1.0", "prod")
    assert f"v0.1.0 is already in prod ({NAME}#prod#1)" in refused(
        repo, capsys, "promote", "--version", "0.1.0", "--stage", "prod"
    )
    assert "nothing to roll back to: prod has only ever run v0.1.0" in refused(
        repo, capsys, "rollback", "--stage", "prod"
    )


def test_a_version_deregistered_with_gto_is_neither_promoted_nor_deployed(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gto.api import deregister

    register(repo, image=f"{IMAGE}@{DIGESTS['a']}")
    git(repo, "push", "--quiet", "origin", "main")
    release.promote(repo, "v0.1.0", "staging")
    deregister(str(repo), NAME, version="v0.1.0")  # tag NAME@v0.1.0!: withdrawn
    assert _version(registry.read_state(repo).current("staging")) == "v0.1.0"  # still what it ran
    withdrawn = f"v0.1.0 was deregistered ({NAME}@v0.1.0!)"
    assert withdrawn in refused(repo, capsys, "promote", "--version", "v0.1.0", "--stage", "prod")
    assert withdrawn in refused(repo, capsys, "deploy", "--stage", "staging", "--dry-run")


def test_rollback_goes_further_back_and_never_returns_to_a_version_rolled_back_from(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rollbacks walk the stage's stack: v3 -> v2 -> v1, then refuse; promoting pushes again."""
    register(repo, push=True)
    for text in ("second model", "third model"):
        commit_change(repo, text)
        write_artifacts(repo)
        register(repo, push=True)
    for version in ("v0.1.0", "v0.1.1", "v0.1.2"):
        release.promote(repo, version, "prod", push=True)
    capsys.readouterr()
    assert cli(repo, "rollback", "--stage", "prod", "--push") == 0
    assert f"rolled prod back from v0.1.2 to v0.1.1 ({NAME}#prod#4)" in capsys.readouterr().out
    assert cli(repo, "rollback", "--stage", "prod", "--push") == 0  # not back to v0.1.2
    assert f"rolled prod back from v0.1.1 to v0.1.0 ({NAME}#prod#5)" in capsys.readouterr().out
    assert tags(repo) == remote_tags(repo)
    message = git(repo, "tag", "-l", "--format=%(contents:subject)", f"{NAME}#prod#5")
    assert message == f"Roll back {NAME} in prod from v0.1.1 to v0.1.0"
    assert "every other version it ran (v0.1.1, v0.1.2) was rolled back from" in refused(
        repo, capsys, "rollback", "--stage", "prod"
    )
    release.promote(repo, "v0.1.2", "prod")  # fixed forward by hand: pushed on the stack again
    assert registry.read_state(repo).stack("prod") == ["v0.1.0", "v0.1.2"]
    _, assignment = release.rollback(repo, "prod")
    assert (assignment.version, assignment.number) == ("v0.1.0", 7)
    next_second()  # GTO orders a stage's tags by time (1 s): make its view unambiguous
    release.promote(repo, "v0.1.1", "staging")
    assert registry.read_state(repo).stack("prod") == ["v0.1.0"]  # other stages do not count
    assert gto_show(repo)["stage"] == {"staging": "v0.1.1", "prod": "v0.1.0"}


def test_the_stages_are_the_ones_gto_reads_from_the_gto_file(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register(repo)
    (repo / ".gto").write_text("stages: [dev, staging, prod]\n")
    assert cli(repo, "promote", "--version", "v0.1.0", "--stage", "dev") == 0
    assert f"{NAME}#dev#1" in tags(repo)
    (repo / ".gto").write_text("stages: [staging]\n")
    assert "unknown stage 'prod' (expected one of staging, as listed in .gto)" in refused(
        repo, capsys, "promote", "--version", "v0.1.0", "--stage", "prod"
    )
    (repo / ".gto").unlink()
    assert ".gto not found: it lists the stages" in refused(repo, capsys, "status")
    (repo / ".gto").write_text("# no stages\n")
    assert ".gto lists no stages: add `stages: [staging, prod]`" in refused(
        repo, capsys, "promote", "--version", "v0.1.0", "--stage", "staging"
    )
    (repo / ".gto").write_text("stages: {not: [a, list]}\n")
    assert ".gto: GTO cannot read it" in refused(repo, capsys, "status")


def test_deploy_guards_and_commands(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "no version is assigned to staging" in refused(
        repo, capsys, "deploy", "--stage", "staging"
    )
    register(repo)  # registered by hand, without an image
    release.promote(repo, "v0.1.0", "staging")
    assert "v0.1.0 has no image in its registration tag" in refused(
        repo, capsys, "deploy", "--stage", "staging"
    )
    commit_change(repo, "imaged")
    write_artifacts(repo)
    image = f"{IMAGE}@{DIGESTS['d']}"
    register(repo, image=image)
    next_second()
    release.promote(repo, "v0.1.1", "staging")
    assert "is not on the default branch main" in refused(
        repo, capsys, "deploy", "--stage", "staging", "--dry-run"
    )
    git(repo, "push", "--quiet", "origin", "main")  # merged: on the default branch
    capsys.readouterr()
    version, commands = deploy.deploy(repo, "staging", version="v0.1.0", dry_run=True)
    assert version == "v0.1.1"
    assert "staging now holds v0.1.1" in capsys.readouterr().err
    assert commands[0] == [
        *("docker", "buildx", "imagetools", "create", "--tag", f"{IMAGE}:staging", image)
    ]
    if HAS_DEPLOY:
        assert commands[1] == ["kubectl", "apply", "--kustomize", "deploy/overlays/staging"]
        assert commands[2][:3] == ["kubectl", "rollout", "status"]
        assert f"{NAME}-staging" in commands[2]
        assert not git(repo, "status", "--porcelain")  # the rendered overlay is ignored by git
    shutil.rmtree(repo / "deploy", ignore_errors=True)  # deploy_target "none": registry tags only
    assert deploy.deploy_commands(repo, "staging", image) == commands[:1]
    with pytest.raises(ReleaseError, match="not pinned by digest"):
        deploy.split_image(f"{IMAGE}:latest")


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        (f"{NAME}@v0.1.0", {"event": "registration", "version": "v0.1.0", "stage": ""}),
        (f"refs/tags/{NAME}#prod#2", {"event": "assignment", "version": "v0.1.0", "stage": "prod"}),
        (f"{NAME}#qa#3", {"event": "none", "stage": ""}),  # a stage not deployed
        ("other-model@v1.0.0", {"event": "none", "version": ""}),
        ("v1.0.0", {"event": "none", "version": ""}),
        ("not-a-tag", {"event": "none", "version": ""}),
    ],
)
def test_check_ref_decisions(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ref: str,
    expected: dict[str, str],
) -> None:
    head = git(repo, "rev-parse", "HEAD")
    register(repo)
    release.promote(repo, "v0.1.0", "staging")
    release.promote(repo, "v0.1.0", "prod")
    git(repo, "tag", "-a", "-m", "qa", f"{NAME}#qa#3", head)  # a stage this project never deploys
    git(repo, "tag", "-a", "-m", "other", "other-model@v1.0.0", head)
    git(repo, "tag", "-a", "-m", "plain", "v1.0.0", head)
    outputs = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    capsys.readouterr()
    assert cli(repo, "check-ref", ref, "--github-output") == 0
    decision = json.loads(capsys.readouterr().out)
    assert {k: decision[k] for k in expected} == expected
    assert decision["tag"] == ref.removeprefix("refs/tags/")
    lines = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert lines == decision


def test_register_refuses_artifacts_trained_with_other_params_or_data(
    repo: Path, capsys: pytest.CaptureFixture[str], make_frame: Callable[..., Any]
) -> None:
    """Register runs the staleness guard: the data changed after training."""
    make_frame(rows=100, seed=3).to_csv(repo / "data" / "data.csv", index=False)
    message = refused(repo, capsys, "register")
    assert "artifacts/ were trained with other params or data (data data/data.csv changed)" in (
        message
    )


def _retrain_keeping_the_gate_record(repo: Path) -> None:
    """What `make train` leaves after a change: a new model and lineage, the old gate record."""
    kept = {
        name: (repo / "artifacts" / name).read_bytes() for name in ("checks.json", "checks.html")
    }
    write_artifacts(repo, model=b"a model trained after the change")
    for name, content in kept.items():
        (repo / "artifacts" / name).write_bytes(content)


def _spoil_labels(repo: Path) -> None:
    data = repo / "data" / "data.csv"
    lines = data.read_text().splitlines()
    flipped = [line.rsplit(",", 1)[0] + ",yes" for line in lines[1:]]
    data.write_text("\n".join([lines[0], *flipped]) + "\n")
    _retrain_keeping_the_gate_record(repo)


def _change_params(repo: Path, section: str, values: dict[str, Any]) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params[section] = {**params.get(section, {}), **values}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git(repo, "commit", "--quiet", "-am", f"change {section}")


def _retrained_with_other_params(repo: Path) -> None:
    _change_params(repo, "model", {"params": {"C": 0.01, "max_iter": 1000}})
    _retrain_keeping_the_gate_record(repo)


def _checked_with_other_thresholds(repo: Path) -> None:
    """`make check` with relaxed gates in params.yaml, which were then put back."""
    record = json.loads((repo / "artifacts" / "checks.json").read_text())
    record["thresholds"]["min_test_accuracy"] = 0.5
    (repo / "artifacts" / "checks.json").write_text(json.dumps(record))


def _replaced_page(repo: Path) -> None:
    (repo / "artifacts" / "checks.html").write_text("<html>another run</html>")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_spoil_labels, "checks.json is not the gate record of the current model (model, data "),
        (_retrained_with_other_params, "(model, params differ)"),
        (_checked_with_other_thresholds, "(thresholds differ)"),
        (_replaced_page, "(checks.html differ)"),
    ],
    ids=["spoiled-labels-retrained", "other-params-retrained", "thresholds-changed", "page"],
)
def test_register_refuses_a_gate_record_that_is_not_the_current_models(
    repo: Path, capsys: pytest.CaptureFixture[str], change: Callable[[Path], None], message: str
) -> None:
    """Train and check, change something, train again: the passed record is not this model's."""
    change(repo)
    error = refused(repo, capsys, "register")
    assert message in error
    assert error.endswith("run `make check`")


def _tag_version(repo: Path, fields: dict[str, str], version: str = "v0.1.0") -> None:
    """A registration tag made without `make register` (plain git), with these fields."""
    body = "".join(f"{key}: {value}\n" for key, value in fields.items())
    git(repo, "tag", "-a", "-m", f"Register {NAME} {version}\n\n{body}", f"{NAME}@{version}")


def test_promote_and_deploy_refuse_a_version_without_a_passed_gate_record(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    head = git(repo, "rev-parse", "HEAD")
    image = f"{IMAGE}@{DIGESTS['a']}"
    _tag_version(repo, {"commit": head, "image": image, "gates": "passed"})
    message = refused(repo, capsys, "promote", "--version", "v0.1.0", "--stage", "prod")
    assert f"{NAME}@v0.1.0 records no gate record of its model (model-sha256" in message
    git(repo, "tag", "-a", "-m", "by hand", f"{NAME}#prod#1", head)  # assigned without make
    assert "records no gate record" in refused(repo, capsys, "deploy", "--stage", "prod")
    git(repo, "tag", "-d", f"{NAME}@v0.1.0", f"{NAME}#prod#1")
    record = dict.fromkeys(registry.RECORD_FIELDS, "a" * 64)
    _tag_version(repo, {"commit": head, "image": image, "gates": "failed", **record})
    assert "does not record passed gates (gates: failed)" in refused(
        repo, capsys, "promote", "--version", "v0.1.0", "--stage", "staging"
    )


def test_a_registration_records_the_fingerprints_of_its_gate_record(repo: Path) -> None:
    record = json.loads((repo / "artifacts" / "checks.json").read_text())
    version = register(repo)
    assert version.fields["model-sha256"] == record["model_sha256"]
    assert version.fields["data-sha256"] == record["data_sha256"]
    assert version.fields["params-sha256"] == record["params_sha256"]
    assert version.fields["checks-sha256"] == sha256_file(repo / "artifacts" / "checks.json")
    assert guards.ensure_registered_with_gates(registry.read_state(repo).versions["v0.1.0"])


def test_check_ref_refuses_an_assignment_of_an_unregistered_commit(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register(repo)
    commit_change(repo, "never registered")
    git(repo, "push", "--quiet", "origin", "main")
    git(repo, "tag", "-a", "-m", "by hand", f"{NAME}#prod#7")
    message = refused(repo, capsys, "check-ref", f"{NAME}#prod#7")
    assert f"{NAME}#prod#7 does not name a registered version of {NAME}" in message


def test_check_ref_refuses_versions_registered_off_the_default_branch(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "checkout", "--quiet", "-b", "feature")
    commit_change(repo, "an unreviewed model")
    write_artifacts(repo)
    register(repo)
    release.promote(repo, "v0.1.0", "prod")
    for ref in (f"{NAME}@v0.1.0", f"{NAME}#prod#1"):
        message = refused(repo, capsys, "check-ref", ref, "--default-branch", "main")
        assert "is not on the default branch main: only versions registered from main" in message
    git(repo, "push", "--quiet", "origin", "feature:main")  # reviewed and merged
    assert cli(repo, "check-ref", f"{NAME}#prod#1", "--default-branch", "main") == 0
    decision = json.loads(capsys.readouterr().out)
    assert decision["event"] == "assignment"
    assert decision["commit"] == git(repo, "rev-parse", "HEAD")


@pytest.mark.parametrize(
    "ref",
    [
        *("x`id`@v1", "x$(id)@v1", f'{NAME}#prod#1" ; id ; "', f"{NAME}#prod#1\nid"),
        *("-h", "", f"{NAME}@v0.1.0\n"),
    ],
    ids=repr,
)
def test_check_ref_refuses_tag_names_outside_gtos_characters(
    repo: Path, capsys: pytest.CaptureFixture[str], ref: str
) -> None:
    message = refused(repo, capsys, "check-ref", "--", ref)
    assert "is not a tag name this project uses" in message


@pytest.mark.parametrize("branch", ["main;id", "--output=x", "a..b", "main\nx", "$(id)"])
def test_check_ref_refuses_a_default_branch_that_is_not_a_branch_name(
    repo: Path, capsys: pytest.CaptureFixture[str], branch: str
) -> None:
    register(repo)
    message = refused(repo, capsys, "check-ref", f"{NAME}@v0.1.0", f"--default-branch={branch}")
    assert "is not a branch or commit name this project accepts" in message


REVIEWERS = {
    "id": 1,
    "node_id": "MDQ6R2F0ZTE=",
    "type": "required_reviewers",
    "prevent_self_review": True,
    "reviewers": [{"type": "Team", "reviewer": {"id": 7, "name": "ml-leads"}}],
}


@pytest.mark.parametrize(
    ("stage", "environment", "problem"),
    [
        ("prod", {"name": "prod", "protection_rules": [REVIEWERS]}, None),
        ("prod", None, "the prod environment does not exist"),
        ("prod", {"name": "prod", "protection_rules": []}, "has no required reviewers"),
        (
            "prod",
            {"name": "prod", "protection_rules": [{"type": "wait_timer", "wait_timer": 30}]},
            "has no required reviewers",
        ),
        ("prod", {"protection_rules": [{**REVIEWERS, "reviewers": []}]}, "no required reviewers"),
        ("staging", None, None),
    ],
    ids=["reviewers", "missing", "no-rules", "timer-only", "empty-reviewers", "staging"],
)
def test_prod_needs_an_environment_with_required_reviewers(
    stage: str, environment: dict[str, Any] | None, problem: str | None
) -> None:
    """The decision on GitHub's environment document (GET /repos/OWNER/REPO/environments/NAME)."""
    found = guards.missing_reviewers(stage, environment)
    assert found is None if problem is None else (found is not None and problem in found)


def test_check_ref_asks_the_api_for_reviewers_and_warns_when_it_cannot(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    register(repo)
    release.promote(repo, "v0.1.0", "prod")
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)  # not on GitHub: nothing to ask
    capsys.readouterr()
    assert cli(repo, "check-ref", f"{NAME}#prod#1", "--require-reviewers") == 0
    assert "warning: could not read the prod environment's protection rules" in (
        capsys.readouterr().err
    )
    # On GitHub the API answers (the network is not reachable here: its answer is given).
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/demo-model")
    unprotected = {"name": "prod", "protection_rules": []}
    monkeypatch.setattr(deploy, "read_environment", lambda *_: (True, unprotected))
    message = refused(repo, capsys, "check-ref", f"{NAME}#prod#1", "--require-reviewers")
    assert "the prod environment has no required reviewers" in message
    assert "a tag alone must not deploy to prod" in message


def test_pushes_in_actions_authenticate_through_the_environment_only(repo: Path) -> None:
    actions = {"GITHUB_ACTIONS": "true", "GH_TOKEN": "t0ken", "GITHUB_SERVER_URL": "https://ghe.x"}
    env = release.push_auth_env({**os.environ, **actions})
    header = subprocess.run(
        ["git", "config", "--get", "http.https://ghe.x/.extraheader"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert header == "AUTHORIZATION: basic " + base64.b64encode(b"x-access-token:t0ken").decode()
    assert "t0ken" not in (repo / ".git" / "config").read_text()
    assert "GIT_CONFIG_COUNT" not in release.push_auth_env({"GH_TOKEN": "t0ken"})


def test_github_output_needs_the_variable(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    assert "needs the GITHUB_OUTPUT" in refused(repo, capsys, "check-ref", "x", "--github-output")


def test_model_card_renders_lineage_checks_and_description(repo: Path) -> None:
    image = f"{IMAGE}@{DIGESTS['e']}"
    register(repo, image=image)
    path = model_card.write_model_card(repo, Path("artifacts/model-card.md"), "v0.1.0")
    card = path.read_text()
    for expected in [
        f"# Model card: {NAME} v0.1.0",
        "## Intended use\n\nPredicts whether a demo customer churns.",
        f"sha256 `{sha256_file(repo / 'data' / 'data.csv')}`",
        "Rows: 100 (train 80, test 20)",
        "| age | numeric | float64 | 1 to 9 |",
        "| city | categorical | object | a |",
        "| accuracy | 0.99 | 0.95 |",
        "Overall: **passed**",
        "| accuracy | model | 0.95 | 0.9 | pass |",
        '"C": 1.0',
        "| scikit-learn | 1.5.2 |",
        "## Limitations",
        f"| Image | `{image}` |",
    ]:
        assert expected in card
    (repo / "artifacts" / "checks.json").unlink()
    assert "No gate results" in model_card.render_model_card(repo)


def test_publish_release_command(repo: Path) -> None:
    register(repo)
    (repo / "artifacts" / "metrics.json").write_text("{}")
    command = deploy.publish_release(repo, "v0.1.0", [Path("artifacts/metrics.json")], True)
    assert command[:4] == ["gh", "release", "create", f"{NAME}@v0.1.0"]
    assert "artifacts/metrics.json" in command
    assert (repo / "artifacts" / "model-card.md").is_file()
    with pytest.raises(ReleaseError, match=r"release assets not found: nope\.bin"):
        deploy.publish_release(repo, "v0.1.0", [Path("nope.bin")], True)


@pytest.mark.skipif(not (HAS_DEPLOY and KUBECTL), reason="deploy_target none, or no kubectl")
@pytest.mark.parametrize("stage", registry.stages(PROJECT))
def test_project_overlays_render_the_stage_image_by_digest(tmp_path: Path, stage: str) -> None:
    """The project's own deploy/ renders with kubectl kustomize, image pinned per stage."""
    shutil.copytree(PROJECT / "deploy", tmp_path / "deploy", ignore=shutil.ignore_patterns("image"))
    shutil.copy(PROJECT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copy(PROJECT / ".gto", tmp_path / ".gto")
    image = f"{IMAGE}@{DIGESTS['f']}"
    deploy.render_overlay(tmp_path, stage, image)
    out = subprocess.run(
        [KUBECTL or "kubectl", "kustomize", str(tmp_path / "deploy" / "overlays" / stage)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    objects: list[dict[str, Any]] = list(yaml.safe_load_all(out))
    docs = {d["kind"]: d for d in objects}
    assert set(docs) == {"Namespace", "Service", "Deployment", "HorizontalPodAutoscaler"}
    assert schema_errors(objects) == []
    # ... and the check catches what kubectl kustomize lets through: a wrong type, a typo.
    wrong = yaml.safe_load(yaml.safe_dump(docs["HorizontalPodAutoscaler"]))
    wrong["spec"]["minReplicas"] = "2"
    typo = yaml.safe_load(yaml.safe_dump(docs["Deployment"]))
    typo["spec"]["template"]["spec"]["containers"][0]["resource"] = {}
    assert [e.split(":")[0] for e in schema_errors([wrong, typo])] == [
        "HorizontalPodAutoscaler spec.minReplicas",
        "Deployment spec.template.spec.containers.0",
    ]
    name = registry.model_name(tmp_path)
    assert docs["Namespace"]["metadata"]["name"] == f"{name}-{stage}"
    assert docs["Deployment"]["metadata"]["name"] == name
    spec = docs["Deployment"]["spec"]
    container = spec["template"]["spec"]["containers"][0]
    assert container["image"] == image
    # The autoscaler owns the replica count; it measures CPU against the container's request.
    assert "replicas" not in spec
    assert container["resources"]["requests"]["cpu"] == "1"
    assert "cpu" not in container["resources"]["limits"]
    assert {"name": "SERVICE_WORKERS", "value": "1"} in container["env"]
    hpa = docs["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["metadata"]["namespace"] == f"{name}-{stage}"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", name)
    bounds = (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"])
    assert bounds == ((2, 8) if stage == "prod" else (1, 2))
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_kubectl_gets_the_environment_secret_as_a_private_kubeconfig(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = repo / "show-kubeconfig.sh"  # stands in for kubectl: prints what it was given
    script.write_text(
        '#!/bin/sh\nstat -c %a "$KUBECONFIG" > seen.txt; cat "$KUBECONFIG" >> seen.txt\n'
    )
    script.chmod(0o755)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBECONFIG_DATA", raising=False)
    with pytest.raises(ReleaseError, match="no cluster credentials"):
        deploy._run_with_kubeconfig(repo, [["kubectl", "apply"]])
    monkeypatch.setenv("KUBECONFIG_DATA", "apiVersion: v1\nkind: Config\n")
    deploy._run_with_kubeconfig(repo, [[str(script)]])
    assert (repo / "seen.txt").read_text() == "600\napiVersion: v1\nkind: Config\n"
