"""Release: GTO tags in a real git repository (with a bare origin), guards, deploy manifests."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.module_name }} import deploy, model_card, release
from {{ cookiecutter.module_name }}.cli import main as cli_main

pytestmark = pytest.mark.code

PROJECT = Path(__file__).resolve().parents[2]
# The test repositories take the project's own name, so that its deploy/ manifests fit them as
# they are (no renaming: a name like `data` also occurs in YAML keys such as `metadata:`).
NAME = release.model_name(PROJECT)
DIGESTS = {n: f"sha256:{n * 64}" for n in "abcdef"}
IMAGE = "ghcr.io/acme/demo-model"
KUBECTL = shutil.which("kubectl")
HAS_DEPLOY = (PROJECT / "deploy" / "base" / "kustomization.yaml").is_file()


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


def write_artifacts(repo: Path, passed: bool = True, commit: str | None = None) -> None:
    """Minimal lineage.json and checks.json per the artifact contract, for HEAD by default."""
    commit = commit or git(repo, "rev-parse", "HEAD")
    metrics = {"task": "classification", "train": {"accuracy": 0.99}, "test": {"accuracy": 0.95}}
    lineage = {
        "project": NAME,
        "model_name": NAME,
        "started_at": "2026-01-01T00:00:00+00:00",
        "finished_at": "2026-01-01T00:00:05+00:00",
        "git": {"commit": commit, "dirty": False},
        "task": "classification",
        "seed": 42,
        "params": {"model": {"type": "logistic_regression", "C": 1.0}},
        "data": {
            "path": "data/x.csv",
            "sha256": "d" * 64,
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
        "model": {"path": "artifacts/model.joblib", "type": "logistic_regression", "sha256": "m"},
    }
    gates = [
        {"name": "accuracy", "suite": "model", "value": 0.95, "threshold": 0.9, "passed": passed}
    ]
    (repo / "artifacts").mkdir(exist_ok=True)
    (repo / "artifacts" / "lineage.json").write_text(json.dumps(lineage))
    (repo / "artifacts" / "checks.json").write_text(json.dumps({"passed": passed, "gates": gates}))


def commit_change(repo: Path, text: str) -> str:
    (repo / "model.txt").write_text(text)
    git(repo, "add", "model.txt")
    git(repo, "commit", "--quiet", "-m", text)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A project repository with one commit, trained artifacts and a bare origin."""
    origin, work = tmp_path / "origin.git", tmp_path / "work"
    subprocess.run(["git", "init", "--quiet", "--bare", str(origin)], check=True)
    work.mkdir()
    git(work, "init", "--quiet", "-b", "main")
    git(work, "config", "user.name", "Test")
    git(work, "config", "user.email", "test@example.com")
    git(work, "remote", "add", "origin", str(origin))
    (work / "pyproject.toml").write_text(
        f'[project]\nname = "{NAME}"\nversion = "0.1.0"\n'
        'description = "Predicts whether a demo customer churns."\n'
    )
    (work / ".gitignore").write_text("artifacts/\n")
    if HAS_DEPLOY:
        shutil.copytree(PROJECT / "deploy", work / "deploy", ignore=shutil.ignore_patterns("image"))
    git(work, "add", ".")
    git(work, "commit", "--quiet", "-m", "init")
    git(work, "push", "--quiet", "origin", "main")
    write_artifacts(work)
    return work


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


def gto_show(repo: Path) -> dict:
    """The real `gto show --json`, in-process (its CLI app)."""
    from click.testing import CliRunner
    from gto.cli import app

    result = CliRunner().invoke(app, ["show", "--json", "--repo", str(repo)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)[NAME]


def rendered_image(repo: Path, stage: str) -> str:
    """Deploy STAGE (dry run) and return the image of the Deployment in the rendered overlay."""
    assert cli(repo, "deploy", "--stage", stage, "--dry-run") == 0
    overlay = repo / "deploy" / "overlays" / stage
    out = subprocess.run(
        [KUBECTL, "kustomize", str(overlay)], check=True, capture_output=True, text=True
    ).stdout
    (deployment,) = [d for d in yaml.safe_load_all(out) if d["kind"] == "Deployment"]
    assert deployment["metadata"]["namespace"] == f"{NAME}-{stage}"
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container["image"]


def assert_state(repo: Path, stages: dict[str, str], images: dict[str, str]) -> None:
    """Check what runs where three ways: our state, `gto show`, the rendered manifests."""
    state = release.read_state(repo)
    assert {s: state.current(s).version for s in stages} == stages
    assert {s: v for s, v in gto_show(repo)["stage"].items() if v} == stages
    if HAS_DEPLOY and KUBECTL:
        for stage, version in stages.items():
            assert rendered_image(repo, stage) == images[version]
    assert tags(repo) == remote_tags(repo)  # everything was pushed


def test_register_promote_rollback_lifecycle(repo: Path, capsys: pytest.CaptureFixture[str]):
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


def test_register_defaults_to_next_patch_or_given_part(repo: Path):
    assert release.register(repo).version == "v0.1.0"
    commit_change(repo, "two")
    write_artifacts(repo)
    assert release.register(repo, part="minor").version == "v0.2.0"
    commit_change(repo, "three")
    write_artifacts(repo)
    assert release.register(repo, version="1.0.0").version == "v1.0.0"
    commit_change(repo, "four")
    write_artifacts(repo)
    assert release.register(repo).version == "v1.0.1"


def test_register_reads_the_image_recorded_by_publish_image(repo: Path):
    ref = f"{IMAGE}@{DIGESTS['c']}"
    (repo / "artifacts" / "image.json").write_text(json.dumps({"ref": ref}))
    assert release.register(repo).image == ref


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
        ("none", ("--version", "v1.2.3-rc1"), "is not semantic"),
        ("none", ("--bump", "huge"), None),
    ],
)
def test_register_guards(repo: Path, capsys, setup: str, args: tuple, message: str | None):
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


def test_register_refuses_existing_lower_and_same_commit(repo: Path, capsys):
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


def test_failed_push_leaves_no_tag(repo: Path, capsys):
    git(repo, "remote", "set-url", "origin", str(repo.parent / "missing.git"))
    assert f"could not push {NAME}@v0.1.0 to origin" in refused(repo, capsys, "register", "--push")


def test_promote_and_rollback_guards(repo: Path, capsys):
    assert "nothing to roll back: no version was ever assigned to prod" in refused(
        repo, capsys, "rollback", "--stage", "prod"
    )
    assert "version v0.1.0 is not registered (registered: none)" in refused(
        repo, capsys, "promote", "--version", "v0.1.0", "--stage", "staging"
    )
    release.register(repo)
    assert "unknown stage 'production' (expected one of staging, prod)" in refused(
        repo, capsys, "promote", "--version", "v0.1.0", "--stage", "production"
    )
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


def test_deploy_guards_and_commands(repo: Path, capsys):
    assert "no version is assigned to staging" in refused(
        repo, capsys, "deploy", "--stage", "staging"
    )
    release.register(repo)  # registered by hand, without an image
    release.promote(repo, "v0.1.0", "staging")
    assert "v0.1.0 has no image in its registration tag" in refused(
        repo, capsys, "deploy", "--stage", "staging"
    )
    commit_change(repo, "imaged")
    write_artifacts(repo)
    image = f"{IMAGE}@{DIGESTS['d']}"
    release.register(repo, image=image)
    next_second()
    release.promote(repo, "v0.1.1", "staging")
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
    with pytest.raises(release.ReleaseError, match="not pinned by digest"):
        deploy.split_image(f"{IMAGE}:latest")


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        (f"{NAME}@v0.1.0", {"event": "registration", "version": "v0.1.0", "stage": ""}),
        (f"refs/tags/{NAME}#prod#2", {"event": "assignment", "version": "v0.1.0", "stage": "prod"}),
        (f"{NAME}#qa#3", {"event": "none", "stage": "qa"}),
        ("other-model@v1.0.0", {"event": "none", "version": ""}),
        ("v1.0.0", {"event": "none", "version": ""}),
        ("not-a-tag", {"event": "none", "version": ""}),
    ],
)
def test_check_ref_decisions(repo: Path, capsys, tmp_path, monkeypatch, ref, expected):
    head = git(repo, "rev-parse", "HEAD")
    release.register(repo)
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
    repo: Path, capsys, make_project, base_params, make_frame
):
    """With a params.yaml, register runs the staleness guard before anything else."""
    make_project(base_params(), frame=make_frame(rows=100), root=repo)
    message = refused(repo, capsys, "register")
    assert "artifacts/ were trained with other params or data (params " in message
    assert "data data/data.csv changed): run `make train`" in message


def test_github_output_needs_the_variable(repo: Path, capsys, monkeypatch):
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    assert "needs the GITHUB_OUTPUT" in refused(repo, capsys, "check-ref", "x", "--github-output")


def test_model_card_renders_lineage_checks_and_description(repo: Path):
    image = f"{IMAGE}@{DIGESTS['e']}"
    release.register(repo, image=image)
    path = model_card.write_model_card(repo, Path("artifacts/model-card.md"), "v0.1.0")
    card = path.read_text()
    for expected in [
        f"# Model card: {NAME} v0.1.0",
        "## Intended use\n\nPredicts whether a demo customer churns.",
        "sha256 `" + "d" * 64 + "`",
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


def test_publish_release_command(repo: Path):
    release.register(repo)
    (repo / "artifacts" / "metrics.json").write_text("{}")
    command = deploy.publish_release(repo, "v0.1.0", [Path("artifacts/metrics.json")], True)
    assert command[:4] == ["gh", "release", "create", f"{NAME}@v0.1.0"]
    assert "artifacts/metrics.json" in command
    assert (repo / "artifacts" / "model-card.md").is_file()
    with pytest.raises(release.ReleaseError, match=r"release assets not found: nope\.bin"):
        deploy.publish_release(repo, "v0.1.0", [Path("nope.bin")], True)


@pytest.mark.skipif(not (HAS_DEPLOY and KUBECTL), reason="deploy_target none, or no kubectl")
@pytest.mark.parametrize("stage", release.STAGES)
def test_project_overlays_render_the_stage_image_by_digest(tmp_path: Path, stage: str):
    """The project's own deploy/ renders with kubectl kustomize, image pinned per stage."""
    shutil.copytree(PROJECT / "deploy", tmp_path / "deploy", ignore=shutil.ignore_patterns("image"))
    shutil.copy(PROJECT / "pyproject.toml", tmp_path / "pyproject.toml")
    image = f"{IMAGE}@{DIGESTS['f']}"
    deploy.render_overlay(tmp_path, stage, image)
    out = subprocess.run(
        [KUBECTL, "kustomize", str(tmp_path / "deploy" / "overlays" / stage)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    docs = {d["kind"]: d for d in yaml.safe_load_all(out)}
    assert set(docs) == {"Namespace", "Service", "Deployment"}
    name = release.model_name(tmp_path)
    assert docs["Namespace"]["metadata"]["name"] == f"{name}-{stage}"
    assert docs["Deployment"]["metadata"]["name"] == name
    spec = docs["Deployment"]["spec"]
    assert spec["template"]["spec"]["containers"][0]["image"] == image
    assert spec["replicas"] == (2 if stage == "prod" else 1)


def test_kubectl_gets_the_environment_secret_as_a_private_kubeconfig(repo: Path, monkeypatch):
    script = repo / "show-kubeconfig.sh"  # stands in for kubectl: prints what it was given
    script.write_text(
        '#!/bin/sh\nstat -c %a "$KUBECONFIG" > seen.txt; cat "$KUBECONFIG" >> seen.txt\n'
    )
    script.chmod(0o755)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBECONFIG_DATA", raising=False)
    with pytest.raises(release.ReleaseError, match="no cluster credentials"):
        deploy._run_with_kubeconfig(repo, [["kubectl", "apply"]])
    monkeypatch.setenv("KUBECONFIG_DATA", "apiVersion: v1\nkind: Config\n")
    deploy._run_with_kubeconfig(repo, [[str(script)]])
    assert (repo / "seen.txt").read_text() == "600\napiVersion: v1\nkind: Config\n"
