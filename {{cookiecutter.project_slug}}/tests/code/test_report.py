"""The pull-request report, built from real training runs of the project's own pipeline."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from {{ cookiecutter.module_name }}.cli import EXIT_ERROR
from {{ cookiecutter.module_name }}.cli import main as cli_main
from {{ cookiecutter.module_name }}.errors import ArtifactError
from {{ cookiecutter.module_name }}.layout import STUDY_FILE
from {{ cookiecutter.module_name }}.reporting.base_run import (
    BASE_RUN_FILES,
    BASE_RUN_OPTIONAL,
    WORKTREE_PREFIX,
    build_base,
    remove_stale_worktrees,
)
from {{ cookiecutter.module_name }}.reporting.compare import (
    BETTER,
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    MISSING,
    NEW,
    NOISE,
    REMOVED,
    UNCHANGED,
    UNKNOWN,
    WORSE,
    compare_metric,
    compare_metrics,
    diff_params,
    direction,
    flatten,
)
from {{ cookiecutter.module_name }}.reporting.report import run_report, write_report
from {{ cookiecutter.module_name }}.reporting.runs import Base, load_base, load_run

pytestmark = pytest.mark.code

PROJECT = Path(__file__).resolve().parents[2]
PACKAGE = cli_main.__module__.split(".")[0]


def _train(root: Path, **changes: object) -> Path:
    """Train the project's own params.yaml (with ``changes``) and its data into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    params = yaml.safe_load((PROJECT / "params.yaml").read_text(encoding="utf-8"))
    params.update(changes)
    data = PROJECT / params["data"]["path"]
    if data.is_file():  # the project's own data (e.g. after `make adopt`); else `data` gets it
        (root / params["data"]["path"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data, root / params["data"]["path"])
    (root / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    for command in ("data", "train"):
        assert cli_main([command, "--params", str(root / "params.yaml")]) == 0
    return root / "artifacts"


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two real runs: the base (params.yaml as shipped) and a PR that changes the seed."""
    root = tmp_path_factory.mktemp("report-runs")
    return _train(root / "pr", seed=7), _train(root / "base")


@pytest.fixture
def pr_artifacts(runs: tuple[Path, Path], tmp_path: Path) -> Path:
    """A private copy of the PR run's artifacts (tests add gate results to it)."""
    return Path(shutil.copytree(runs[0], tmp_path / "artifacts"))


def _checks(artifacts: Path, failing: tuple[str, ...] = ()) -> dict[str, Any]:
    """Write a checks.json (gates contract) whose gates read the run's real test metrics."""
    test = json.loads((artifacts / "metrics.json").read_text())["test"]
    gates = []
    for name, value in test.items():
        failed = name in failing
        threshold = value + 0.01 if failed == (direction(name) == "higher") else value - 0.01
        gates.append(
            {
                "name": f"min_{name}" if direction(name) == "higher" else f"max_{name}",
                "suite": "model",
                "value": value,
                "threshold": threshold,
                "passed": not failed,
                "detail": f"test {name}",
            }
        )
    checks = {"passed": not failing, "gates": gates}
    (artifacts / "checks.json").write_text(json.dumps(checks))
    (artifacts / "checks.html").write_text("<html>deepchecks</html>")
    return checks


def _section(markdown: str, title: str) -> str:
    match = re.search(rf"^### {re.escape(title)}\n(.*?)(?=^### |\Z)", markdown, re.M | re.S)
    assert match, f"no section {title!r}"
    return match.group(1)


def _rows(text: str) -> list[list[str]]:
    """Table rows (header and separator excluded) of the first table in ``text``."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    split = [[c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]
    return [row for row in split[2:] if row] if len(split) > 2 else []


def _first_table(text: str) -> str:
    return text.split("<details>")[0]


def _fmt(value: float) -> str:
    return f"{value:.4f}"


def test_metric_table_equals_both_runs_metrics_with_directions(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    pr, base_dir = runs
    report = run_report(tmp_path, pr, out=tmp_path / "report", base_artifacts=base_dir)
    markdown = report.read_text(encoding="utf-8")
    pr_test = json.loads((pr / "metrics.json").read_text())["test"]
    base_test = json.loads((base_dir / "metrics.json").read_text())["test"]
    rows = {r[0].split()[0]: r for r in _rows(_first_table(_section(markdown, "Metrics")))}
    assert set(rows) == set(pr_test)
    intervals = json.loads((pr / "diagnostics.json").read_text())["intervals"]
    for name, value in pr_test.items():
        metric, pr_cell, interval_cell, base_cell, change_cell, verdict_cell = rows[name]
        assert pr_cell == _fmt(value)
        assert base_cell == _fmt(base_test[name])
        low, high = intervals[name]["low"], intervals[name]["high"]
        assert interval_cell == f"{_fmt(low)} to {_fmt(high)}"
        change = compare_metric(name, value, base_test[name], (low, high))
        assert verdict_cell.endswith(change.verdict)
        assert metric.endswith("↑" if direction(name) == "higher" else "↓")
        if change.verdict != UNCHANGED:
            assert math.isclose(float(change_cell), value - base_test[name], abs_tol=1e-4)
    if pr_test != base_test:  # another seed changes the metrics (not on data any split fits)
        assert any(r[5] != UNCHANGED for r in rows.values()), "changes are shown"


def test_a_change_inside_the_interval_is_noise_and_beyond_it_a_verdict() -> None:
    assert compare_metric("r2", 0.45, 0.449, (0.40, 0.50)).verdict == NOISE
    assert compare_metric("r2", 0.45, 0.39, (0.40, 0.50)).verdict == BETTER
    assert compare_metric("rmse", 50.0, 49.0, (45.0, 55.0)).verdict == NOISE
    assert compare_metric("rmse", 50.0, 44.0, (45.0, 55.0)).verdict == WORSE
    assert compare_metric("r2", 0.45, 0.39).verdict == BETTER  # no interval: the old rule


def test_parameter_and_data_sections_compare_with_the_base(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    pr, base_dir = runs
    markdown = run_report(tmp_path, pr, out=tmp_path / "r", base_artifacts=base_dir).read_text()
    assert _rows(_section(markdown, "Parameters changed from the base")) == [
        ["`seed`", "`42`", "`7`"]
    ]
    data = _section(markdown, "Data")
    assert "Data unchanged" in data
    lineage = json.loads((pr / "lineage.json").read_text())
    rows = {r[0]: r[1:] for r in _rows(data)}
    assert rows["Rows"] == [str(lineage["data"]["rows"])] * 2
    assert rows["Columns"] == [str(lineage["data"]["columns"])] * 2

    changed = tmp_path / "base-changed"
    shutil.copytree(base_dir, changed)
    base_lineage = json.loads((changed / "lineage.json").read_text())
    base_lineage["data"]["sha256"] = "0" * 64
    (changed / "lineage.json").write_text(json.dumps(base_lineage))
    markdown = run_report(tmp_path, pr, out=tmp_path / "r2", base_artifacts=changed).read_text()
    assert "**Data changed**" in _section(markdown, "Data")


def test_every_failing_gate_is_in_the_verdict_and_the_gate_table(
    pr_artifacts: Path, tmp_path: Path
) -> None:
    failing = tuple(json.loads((pr_artifacts / "metrics.json").read_text())["test"])[:2]
    checks = _checks(pr_artifacts, failing)
    markdown = run_report(tmp_path, pr_artifacts, out=tmp_path / "r").read_text()
    first_line = next(line for line in markdown.splitlines()[1:] if line)
    assert f"{len(failing)} of {len(checks['gates'])} gates failed" in first_line
    rows = {r[0]: r for r in _rows(_section(markdown, "Gates"))}
    assert set(rows) == {g["name"] for g in checks["gates"]}
    for gate in checks["gates"]:
        row = rows[gate["name"]]
        assert row[2] == _fmt(gate["value"])
        assert row[3] == _fmt(gate["threshold"])
        assert ("fail" in row[4]) is (not gate["passed"])
        if not gate["passed"]:
            assert f"`{gate['name']}`" in first_line


def test_all_gates_passed_and_the_gate_report_is_copied(pr_artifacts: Path, tmp_path: Path) -> None:
    checks = _checks(pr_artifacts)
    report = run_report(tmp_path, pr_artifacts, out=tmp_path / "r")
    markdown = report.read_text()
    assert f"All {len(checks['gates'])} gates passed" in markdown
    assert (report.parent / "checks.html").read_text() == "<html>deepchecks</html>"
    assert "`checks.html`" in _section(markdown, "Full gate report")


def test_missing_checks_says_gates_were_not_run(pr_artifacts: Path, tmp_path: Path) -> None:
    markdown = run_report(tmp_path, pr_artifacts, out=tmp_path / "r").read_text()
    assert "Gates were not run" in markdown
    assert "No base-branch comparison" in markdown
    assert "No base run to compare with" in markdown


@pytest.mark.parametrize("missing", ["metrics.json", "lineage.json"])
def test_missing_metrics_or_lineage_is_a_clear_error(
    pr_artifacts: Path, tmp_path: Path, missing: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (pr_artifacts / missing).unlink()
    with pytest.raises(ArtifactError, match=missing):
        load_run(pr_artifacts)
    shutil.copy(PROJECT / "params.yaml", tmp_path / "params.yaml")  # the artifacts' project
    argv = ["--params", str(tmp_path / "params.yaml")]
    assert cli_main(["report", *argv, "--out", "r"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ")
    assert missing in error
    assert "make train" in error
    assert not (tmp_path / "r").exists()


def test_the_report_lists_plots_that_exist_and_embeds_none(
    pr_artifacts: Path, tmp_path: Path
) -> None:
    """Publishing plots is the comment workflow's decision (pr_comment), not the report's."""
    report = run_report(tmp_path, pr_artifacts, out=tmp_path / "r")
    markdown = report.read_text()
    plots = sorted(p.name for p in (pr_artifacts / "plots").glob("*.png"))
    assert plots, "the pipeline writes plots"
    assert "![" not in markdown
    for name in plots:
        assert f"`plots/{name}`" in _section(markdown, "Plots")
        assert (report.parent / "plots" / name).read_bytes() == (
            pr_artifacts / "plots" / name
        ).read_bytes()


def test_markdown_tables_are_rectangular_and_details_balanced(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    pr, base_dir = runs
    artifacts = Path(shutil.copytree(pr, tmp_path / "a"))
    checks = _checks(artifacts, ("accuracy",) if "accuracy" in _test_metrics(pr) else ())
    checks["gates"][0]["name"] = "odd | name\nwith newline"
    (artifacts / "checks.json").write_text(json.dumps(checks))
    markdown = run_report(tmp_path, artifacts, out=tmp_path / "r", base_artifacts=base_dir)
    text = markdown.read_text()
    assert text.count("<details>") == text.count("</details>") >= 2
    table: list[int] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            table.append(len(re.split(r"(?<!\\)\|", line)))
        elif table:
            assert len(set(table)) == 1, f"ragged table near {line!r}"
            table = []
    assert "odd \\| name with newline" in text


def _test_metrics(artifacts: Path) -> dict[str, float]:
    metrics: dict[str, dict[str, float]] = json.loads((artifacts / "metrics.json").read_text())
    return metrics["test"]


def test_a_new_report_replaces_the_old_one_and_leaves_no_temporary_files(
    pr_artifacts: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "report"
    run = load_run(pr_artifacts)
    write_report(run, Base(note="none"), out)
    (out / "report.md").write_text("old")
    write_report(run, Base(note="none"), out)
    assert (out / "report.md").read_text().startswith("## Model report")
    assert sorted(p.name for p in out.parent.iterdir()) == ["report"]


def test_load_base_without_metrics_gives_a_note(tmp_path: Path) -> None:
    base = load_base(tmp_path, ref="origin/main")
    assert base.run is None
    assert "no base metrics" in base.note


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@e.x", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def test_build_base_explains_a_missing_ref_or_pipeline(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "--quiet", "--initial-branch=main")
    (repo / "README.md").write_text("no pipeline here\n")
    _git(repo, "add", "README.md")
    _git(repo, "commit", "--quiet", "-m", "first")
    missing = build_base("origin/nope", repo, tmp_path / "b1")
    assert missing.run is None
    assert "does not exist" in missing.note
    bare = build_base("main", repo, tmp_path / "b2")
    assert bare.run is None
    assert "no Makefile" in bare.note
    assert bare.commit == _git(repo, "rev-parse", "HEAD")
    assert _git(repo, "worktree", "list").count("\n") == 0, "the worktree is removed"
    outside = build_base("main", tmp_path / "b2", tmp_path / "b3")
    assert outside.run is None


def _dead_pid() -> int:
    """The id of a process that has exited."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def _repo_with_commit(path: Path, makefile: str = "") -> Path:
    path.mkdir(parents=True)
    _git(path, "init", "--quiet", "--initial-branch=main")
    (path / "Makefile").write_text(makefile or "all:\n")
    _git(path, "add", "Makefile")
    _git(path, "commit", "--quiet", "-m", "first")
    return path


def test_the_next_report_removes_worktrees_that_killed_reports_left(tmp_path: Path) -> None:
    repo = _repo_with_commit(tmp_path / "repo")
    temp = Path(tempfile.gettempdir())
    dead = temp / f"{WORKTREE_PREFIX}{_dead_pid()}-killed"
    alive = temp / f"{WORKTREE_PREFIX}{os.getpid()}-running"
    for folder in (dead, alive):
        _git(repo, "worktree", "add", "--detach", "--quiet", str(folder / "base"), "HEAD")
    unregistered = temp / f"{WORKTREE_PREFIX}{_dead_pid()}-unlisted"
    (unregistered / "base").mkdir(parents=True)
    try:
        assert remove_stale_worktrees(repo) == [(dead / "base").resolve()]
        listed = _git(repo, "worktree", "list", "--porcelain")
        assert str(dead) not in listed
        assert str(alive) in listed, "a report still running keeps its worktree"
        assert not dead.exists()
        assert not unregistered.exists()
    finally:
        _git(repo, "worktree", "remove", "--force", str(alive / "base"))
        shutil.rmtree(alive, ignore_errors=True)


def _processes_with(marker: str) -> list[str]:
    """Command lines of the running processes that contain ``marker``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in text:
            found.append(text)
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc")
def test_a_stopped_report_removes_its_worktree_and_stops_the_base_build(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    """SIGTERM while the base builds (SIGINT and SIGHUP take the same path): nothing is left."""
    signum = signal.SIGTERM
    marker = f"{os.getpid()}.{signum}"  # a sleep only this test starts
    project = Path(shutil.copytree(runs[0].parent, tmp_path / "project"))
    _git(project, "init", "--quiet", "--initial-branch=main")
    (project / "Makefile").write_text(f"install:\n\tsleep 600 {marker}\ntrain:\n")
    (project / ".gitignore").write_text("artifacts/\ndata/\n")
    _git(project, "add", ".")
    _git(project, "commit", "--quiet", "-m", "base")
    command = [sys.executable, "-m", PACKAGE, "report", "--base", "main"]
    report = subprocess.Popen(command, cwd=project, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not _processes_with(f"sleep 600 {marker}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_with(f"sleep 600 {marker}"), "the base build never started"
    report.send_signal(signum)
    _, err = report.communicate(timeout=60)
    assert report.returncode != 0
    assert "Traceback" not in err
    assert _git(project, "worktree", "list").count("\n") == 0
    assert not list(Path(tempfile.gettempdir()).glob(f"{WORKTREE_PREFIX}{report.pid}-*"))
    assert _processes_with(f"sleep 600 {marker}") == [], "the base build was stopped"


def test_a_saved_run_of_the_merge_base_replaces_retraining_it(
    runs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make base-run` on main saves the run; a report whose merge base it is reads it."""
    # Not from a clean checkout (no git at all): what its commit gives is unknown, so refused.
    outside = runs[0].parent / "params.yaml"
    assert cli_main(["base-run", "--params", str(outside), "--out", "saved"]) == EXIT_ERROR
    assert "not trained from a clean git checkout" in capsys.readouterr().err
    assert not (runs[0].parent / "saved").exists()

    project = Path(shutil.copytree(runs[0].parent, tmp_path / "project"))
    shutil.rmtree(project / "artifacts")
    (project / "Makefile").write_text("install train check:\n\tfalse\n")  # retraining fails
    (project / ".gitignore").write_text("artifacts/\ndata/\nmlruns/\n.base-run/\n")
    _git(project, "init", "--quiet", "--initial-branch=main")
    _git(project, "add", ".")
    _git(project, "commit", "--quiet", "-m", "base")
    params = str(project / "params.yaml")
    assert cli_main(["train", "--params", params]) == 0
    assert cli_main(["base-run", "--params", params, "--out", ".base-run"]) == 0
    saved = project / ".base-run"
    kept = BASE_RUN_FILES + BASE_RUN_OPTIONAL
    written = [p.name for p in (project / "artifacts").iterdir() if p.name in kept]
    assert sorted(p.name for p in saved.iterdir()) == sorted(written)
    _git(project, "checkout", "--quiet", "-b", "feature")
    (project / "README.md").write_text("a change on the branch\n")
    _git(project, "add", "README.md")
    _git(project, "commit", "--quiet", "-m", "feature")

    messages: list[str] = []
    base = build_base("main", project, tmp_path / "base", saved=saved, progress=messages.append)
    main_sha = _git(project, "rev-parse", "main")
    assert base.run is not None, base.note
    assert base.commit == main_sha
    assert base.run.metrics.to_json() == json.loads((saved / "metrics.json").read_text())
    assert messages[-1] == f"base: the saved run of the merge base {main_sha[:7]} (no retraining)"
    assert _git(project, "worktree", "list").count("\n") == 0, "no worktree was made"

    # main moved on: the saved run is of another commit, so the base is retrained (which this
    # Makefile refuses: the report says so instead of showing the old run as the base).
    _git(project, "checkout", "--quiet", "main")
    (project / "NOTES.md").write_text("main moved\n")
    _git(project, "add", "NOTES.md")
    _git(project, "commit", "--quiet", "-m", "main moves")
    _git(project, "checkout", "--quiet", "feature")
    _git(project, "merge", "--quiet", "--no-edit", "main")
    messages.clear()
    stale = build_base("main", project, tmp_path / "base2", saved=saved, progress=messages.append)
    assert stale.run is None
    assert "failed" in stale.note
    assert f"not of the merge base {_git(project, 'rev-parse', 'main')[:7]}" in messages[0]


# --- properties of the comparison logic ----------------------------------------------------

# Shared CI machines can be slow to generate the first examples: time is not what is tested.
PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
known = st.sampled_from(sorted(HIGHER_IS_BETTER | LOWER_IS_BETTER))


@PROPERTY
@given(name=known, pr=finite, base=finite)
def test_delta_is_pr_minus_base_and_verdict_follows_the_direction(
    name: str, pr: float, base: float
) -> None:
    change = compare_metric(name, pr, base)
    assert change.delta == pr - base
    if math.isclose(pr, base, rel_tol=1e-9, abs_tol=1e-12):
        assert change.verdict == UNCHANGED
    elif (pr > base) == (name in HIGHER_IS_BETTER):
        assert change.verdict == BETTER
    else:
        assert change.verdict == WORSE


@PROPERTY
@given(name=known, pr=finite, base=finite)
def test_swapping_pr_and_base_swaps_better_and_worse(name: str, pr: float, base: float) -> None:
    forward, backward = compare_metric(name, pr, base), compare_metric(name, base, pr)
    swap = {BETTER: WORSE, WORSE: BETTER, UNCHANGED: UNCHANGED}
    assert backward.verdict == swap[forward.verdict]


@PROPERTY
@given(pr=finite, base=finite)
def test_lower_is_better_for_errors_and_higher_for_scores(pr: float, base: float) -> None:
    if not math.isclose(pr, base, rel_tol=1e-9, abs_tol=1e-12):
        for error in ("rmse", "mae"):
            assert (compare_metric(error, pr, base).verdict == BETTER) is (pr < base)
        for score in ("accuracy", "f1", "roc_auc", "r2"):
            assert (compare_metric(score, pr, base).verdict == BETTER) is (pr > base)


@PROPERTY
@given(pr=finite, base=finite)
def test_unknown_metrics_get_no_verdict(pr: float, base: float) -> None:
    verdict = compare_metric("custom_score", pr, base).verdict
    assert verdict in {UNKNOWN, UNCHANGED}


@PROPERTY
@given(name=known, value=finite)
def test_missing_sides_and_non_finite_values(name: str, value: float) -> None:
    assert compare_metric(name, value, None).verdict == NEW
    assert compare_metric(name, None, value).verdict == REMOVED
    assert compare_metric(name, math.nan, value).verdict == UNKNOWN
    assert compare_metric(name, value, math.inf).delta is None


@PROPERTY
@given(
    pr=st.dictionaries(known, finite, max_size=6), base=st.dictionaries(known, finite, max_size=6)
)
def test_compare_metrics_covers_both_sides_once(pr: dict[str, Any], base: dict[str, Any]) -> None:
    names = [c.name for c in compare_metrics(pr, base)]
    assert sorted(names) == sorted(set(pr) | set(base))
    assert names[: len(pr)] == list(pr)


params_values = st.one_of(st.none(), st.booleans(), st.integers(), finite, st.text(max_size=5))
keys = st.sampled_from(["seed", "model", "params", "C", "alpha", "data", "path"])
leaves = st.dictionaries(keys, params_values, max_size=3)
params_trees = st.dictionaries(keys, st.one_of(params_values, leaves), max_size=4)


@PROPERTY
@given(pr=params_trees, base=params_trees)
def test_diff_params_lists_exactly_the_differing_dotted_keys(
    pr: dict[str, Any], base: dict[str, Any]
) -> None:
    assert diff_params(pr, pr) == []
    flat_pr, flat_base = flatten(pr), flatten(base)
    changes = diff_params(pr, base)
    keys = [c.key for c in changes]
    assert keys == sorted(keys)
    expected = {
        k
        for k in set(flat_pr) | set(flat_base)
        if flat_pr.get(k, MISSING) != flat_base.get(k, MISSING)
    }
    assert set(keys) == expected
    for change in changes:
        assert change.pr == flat_pr.get(change.key, MISSING)
        assert change.base == flat_base.get(change.key, MISSING)


def test_the_report_shows_the_study_that_produced_the_hyperparameters(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    pr, base_dir = runs
    root = Path(shutil.copytree(pr.parent, tmp_path / "tuned"))
    params = str(root / "params.yaml")
    assert cli_main(["tune", "--params", params, "--trials", "2", "--apply"]) == 0
    assert cli_main(["train", "--params", params]) == 0
    # The committed summary (next to params.yaml) is all the PR workflow has: no artifacts/tune*.
    for name in ("tune.json", "tune.md", "tune.db"):
        (root / "artifacts" / name).unlink()
    summary = json.loads((root / STUDY_FILE).read_text())
    assert set(summary) == {
        "study", "model_type", "metric", "trials", "complete", "pruned", "best_value",
        "best_params", "importances", "schema_version",
    }, "storage-free: no storage URL, no trial log"  # fmt: skip
    markdown = run_report(root, root / "artifacts", out=tmp_path / "r", base_artifacts=base_dir)
    study = _section(markdown.read_text(), "Hyperparameter tuning")
    assert f"Study `{summary['study']}`: 2 trials" in study
    assert f"**{summary['best_value']:.4f}**" in study
    assert [row[0] for row in _rows(study)] == [f"`{key}`" for key in summary["best_params"]]
    assert "stale" not in study

    # params.yaml changed after the study (a run trained with other hyperparameters): the
    # summary is called stale, its table is not shown as this run's.
    untuned = Path(shutil.copytree(pr, tmp_path / "untuned"))
    markdown = run_report(root, untuned, out=tmp_path / "r2", base_artifacts=base_dir)
    stale = _section(markdown.read_text(), "Hyperparameter tuning")
    assert f"`{STUDY_FILE}` is stale" in stale
    assert "Study `" not in stale
    assert not _rows(stale)

    # A summary that is not one (hand-edited, or another file) is a one-line error naming it.
    (root / STUDY_FILE).write_text(json.dumps({**summary, "trials": "many"}))
    with pytest.raises(ArtifactError, match=rf"{STUDY_FILE}: trials: "):
        run_report(root, root / "artifacts", out=tmp_path / "r3", base_artifacts=base_dir)
    assert not (tmp_path / "r3").exists()
