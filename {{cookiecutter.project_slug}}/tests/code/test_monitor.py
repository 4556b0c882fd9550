"""Fast tests of the monitoring code: batch sources and validation, example batches, the
training-data update, the verdict and its renderings, the command line (no deepchecks run)."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from {{ cookiecutter.module_name }} import cli
from {{ cookiecutter.module_name }}.artifacts import sha256_file
from {{ cookiecutter.module_name }}.config import Params, load_params
from {{ cookiecutter.module_name }}.data import Dataset, load_dataset
from {{ cookiecutter.module_name }}.errors import ArtifactError, DataError
from {{ cookiecutter.module_name }}.layout import MONITOR_JSON
from {{ cookiecutter.module_name }}.monitoring import data_update, monitor
from {{ cookiecutter.module_name }}.monitoring.batch import load_batch, resolve_source
from {{ cookiecutter.module_name }}.monitoring.data_update import (
    finish_update,
    restore_training_data,
    update_training_data,
)
from {{ cookiecutter.module_name }}.monitoring.drift import verdict_of
from {{ cookiecutter.module_name }}.monitoring.example_batches import make_batches, write_batches
from {{ cookiecutter.module_name }}.quality import gates
from {{ cookiecutter.module_name }}.records import SCHEMA_VERSION, MonitorSummary
from {{ cookiecutter.module_name }}.serving import traffic

pytestmark = pytest.mark.code


@pytest.fixture
def project(
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
) -> Path:
    """A project with 200 rows of mixed training data; returns its params file."""
    return make_project(base_params(), frame=make_frame(rows=200, seed=1))


def _setup(params_file: Path) -> tuple[Params, Dataset]:
    params = load_params(params_file)
    return params, load_dataset(params, params_file.parent)


def _write(root: Path, name: str, frame: pd.DataFrame) -> str:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(root / name, index=False)
    return name


def test_resolve_source_reads_a_glob_in_name_order_and_names_a_pattern_without_match(
    tmp_path: Path,
) -> None:
    for name in ("b.csv", "a.csv", "c.txt"):
        (tmp_path / "in" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "in" / name).write_text("x,y\n1,2\n")
    paths = resolve_source("in/*.csv", tmp_path)
    assert [p.name for p in paths] == ["a.csv", "b.csv"]
    assert resolve_source("in/b.csv", tmp_path) == [tmp_path / "in" / "b.csv"]
    with pytest.raises(DataError, match=r"nothing/\*\.csv: no file matches"):
        resolve_source("nothing/*.csv", tmp_path)


def test_a_labelled_and_an_unlabelled_batch_are_validated_like_training_data(
    project: Path, make_frame: Callable[..., Any]
) -> None:
    params, reference = _setup(project)
    root = project.parent
    frame = make_frame(rows=60, seed=2)
    batch = load_batch(_write(root, "b.csv", frame), params, reference, root, min_rows=50)
    assert batch.labelled
    assert list(batch.frame.columns) == [*reference.features, "target"]
    assert batch.files[0].rows == 60
    assert len(batch.files[0].sha256) == 64
    unlabelled = frame.drop(columns=["target"])
    batch = load_batch(_write(root, "u.csv", unlabelled), params, reference, root, min_rows=50)
    assert not batch.labelled
    assert list(batch.frame.columns) == reference.features


def test_a_traffic_log_folder_is_a_batch_of_features_with_bad_values_named(
    project: Path, make_frame: Callable[..., Any]
) -> None:
    params, reference = _setup(project)
    root = project.parent
    rows = make_frame(rows=60, seed=2).drop(columns=["target"]).to_dict("records")
    (root / "traffic").mkdir()
    with pytest.raises(DataError, match=r"^traffic: a folder without traffic log files"):
        resolve_source("traffic", root)
    settings = traffic.LogSettings(root / "traffic", 2000, 100)  # rotated: several files
    log = traffic.TrafficLog(settings, "m:1")
    for row in rows:
        log.write([row], [{"prediction": 0}])
    log.close()
    batch = load_batch("traffic", params, reference, root, min_rows=50)
    assert not batch.labelled
    assert len(batch.frame) == 60
    assert len(batch.files) > 1
    assert sum(f.rows for f in batch.files) == 60
    bad = {**rows[0], reference.numeric[0]: "many"}
    log = traffic.TrafficLog(settings, "m:1")
    log.write([bad], [{"prediction": 0}])
    log.close()
    with pytest.raises(DataError, match=r"traffic/traffic-.*\.jsonl"):
        load_batch("traffic", params, reference, root, min_rows=50)


def test_a_labelled_batch_of_a_single_class_is_accepted(
    project: Path, make_frame: Callable[..., Any]
) -> None:
    """A batch is not split: the training data's class-count rule does not apply to it."""
    params, reference = _setup(project)
    root = project.parent
    frame = make_frame(rows=60, seed=2)
    one_class = frame.assign(target=frame["target"].iloc[0])
    name = _write(root, "one.csv", one_class)
    batch = load_batch(name, params, reference, root, min_rows=50)
    assert batch.labelled
    assert set(batch.frame["target"]) == {frame["target"].iloc[0]}


def test_a_glob_batch_concatenates_its_files(project: Path, make_frame: Callable[..., Any]) -> None:
    params, reference = _setup(project)
    root = project.parent
    _write(root, "in/1.csv", make_frame(rows=30, seed=3))
    _write(root, "in/2.csv", make_frame(rows=30, seed=4))
    batch = load_batch("in/*.csv", params, reference, root, min_rows=50)
    assert len(batch.frame) == 60
    assert [f.path for f in batch.files] == ["in/1.csv", "in/2.csv"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["age", "city"]), r"missing column\(s\) .*'age', 'city'"),
        (
            lambda f: f.astype({"income": object}).assign(
                income=lambda d: d["income"].where(d.index != 3, "abc")
            ),
            r"column 'income': non-numeric value 'abc' at line 5",
        ),
        (lambda f: f.head(10), r"10 row\(s\); monitoring needs at least 50"),
        (
            lambda f: f.assign(target=lambda d: d["target"].where(d.index != 0)),
            r"column 'target': 1 missing target value",
        ),
        (
            lambda f: f.astype({"income": object}).assign(
                income=lambda d: d["income"].where(d.index != 7, "1e400")
            ),
            r"column 'income': infinite value '1e400' at line 9",
        ),
        (
            lambda f: f.astype({"target": object}).assign(
                target=lambda d: d["target"].where(d.index != 2, 1)
            ),
            r"column 'target': class labels mix numbers and text",
        ),
    ],
    ids=["missing-columns", "non-numeric", "too-few-rows", "missing-label", "inf", "mixed-labels"],
)
def test_malformed_batches_get_clear_errors(
    project: Path,
    make_frame: Callable[..., Any],
    change: Callable[[pd.DataFrame], pd.DataFrame],
    message: str,
) -> None:
    params, reference = _setup(project)
    root = project.parent
    name = _write(root, "bad.csv", change(make_frame(rows=60, seed=5)))
    with pytest.raises(DataError, match=message) as caught:
        load_batch(name, params, reference, root, min_rows=50)
    assert str(caught.value).startswith("bad.csv: ")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "bad.csv: file is empty"),
        (b"age,income,visits,city,plan,target\n", "bad.csv: has a header but no data rows"),
        (b'{"age": 1}', r"bad.csv: not a CSV file \(it looks like JSON\)"),
    ],
    ids=["empty", "header-only", "json"],
)
def test_unreadable_batches_get_the_training_data_reader_errors(
    project: Path, content: bytes, message: str
) -> None:
    params, reference = _setup(project)
    (project.parent / "bad.csv").write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_batch("bad.csv", params, reference, project.parent, min_rows=50)


def test_a_missing_batch_file_names_where_batches_come_from(project: Path) -> None:
    params, reference = _setup(project)
    with pytest.raises(DataError, match=r"nope.csv: file not found .*CURRENT or monitor.source"):
        load_batch("nope.csv", params, reference, project.parent, min_rows=50)


def test_labelled_and_unlabelled_files_are_not_mixed(
    project: Path, make_frame: Callable[..., Any]
) -> None:
    params, reference = _setup(project)
    root = project.parent
    _write(root, "in/1.csv", make_frame(rows=30, seed=3))
    _write(root, "in/2.csv", make_frame(rows=30, seed=4).drop(columns=["target"]))
    with pytest.raises(DataError, match=r"some batch files have the target column .*in/1.csv"):
        load_batch("in/*.csv", params, reference, root, min_rows=50)


def test_example_batches_are_deterministic_and_only_the_drifted_one_is_shifted(
    project: Path,
) -> None:
    _, reference = _setup(project)
    raw = pd.read_csv(reference.path)
    stable, drifted, shifted = make_batches(raw, reference, seed=42, rows=100)
    again = make_batches(raw, reference, seed=42, rows=100)
    pd.testing.assert_frame_equal(stable, again[0])
    pd.testing.assert_frame_equal(drifted, again[1])
    assert list(stable.columns) == list(raw.columns) == list(drifted.columns)
    assert len(stable) == len(drifted) == 100
    # The first three numeric features with at least 10 distinct values.
    assert shifted == ["age", "income", "visits"]
    same = raw.sample(n=100, random_state=43).reset_index(drop=True)
    pd.testing.assert_frame_equal(drifted.drop(columns=shifted), same.drop(columns=shifted))
    for column in shifted:
        moved = drifted[column].mean() - raw[column].mean()
        assert moved == pytest.approx(raw[column].std(), rel=0.5)
    assert stable.merge(raw).shape[0] == 100, "stable rows are rows of the training data"


def test_write_batches_writes_both_files(project: Path) -> None:
    params, _ = _setup(project)
    root = project.parent
    result = write_batches(params, root, root / "data" / "batches", rows=50)
    assert sorted(p.name for p in (root / "data" / "batches").iterdir()) == [
        "drifted.csv",
        "stable.csv",
    ]
    assert result["rows"] == 50


def test_append_keeps_the_training_file_bytes_and_columns(
    project: Path, make_frame: Callable[..., Any]
) -> None:
    params, _ = _setup(project)
    root = project.parent
    data = root / params.data.path
    before = data.read_bytes()
    batch = make_frame(rows=20, seed=9)
    batch = batch[list(reversed(batch.columns))].assign(extra="x")
    update = update_training_data(params, root, _write(root, "new.csv", batch))
    after = data.read_bytes()
    assert after.startswith(before)
    combined = pd.read_csv(data)
    assert list(combined.columns) == list(pd.read_csv(root / "new.csv").columns[::-1][1:])
    assert len(combined) == 220
    assert (update.rows_before, update.rows_after, update.added_rows) == (200, 220, 20)
    assert update.after_sha256 == sha256_file(data) != update.before_sha256
    assert update.dropped_columns == ["extra"]
    pd.testing.assert_frame_equal(
        combined.tail(20).reset_index(drop=True),
        make_frame(rows=20, seed=9),
        check_dtype=False,
    )


def test_replace_mode_keeps_only_the_batch(project: Path, make_frame: Callable[..., Any]) -> None:
    params, _ = _setup(project)
    root = project.parent
    name = _write(root, "new.csv", make_frame(rows=40, seed=9))
    update = update_training_data(params, root, name, mode="replace")
    assert update.rows_after == 40
    assert len(pd.read_csv(root / params.data.path)) == 40
    restore_training_data(update)  # a failed gate: the data comes back whole
    assert len(pd.read_csv(root / params.data.path)) == 200


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda f: f.drop(columns=["target"]),
            "no target column 'target'; retraining needs labelled",
        ),
        (lambda f: f.assign(age="old"), "column 'age': non-numeric value 'old'"),
    ],
    ids=["unlabelled", "invalid"],
)
def test_a_batch_that_cannot_be_training_data_leaves_the_file_untouched(
    project: Path,
    make_frame: Callable[..., Any],
    change: Callable[[pd.DataFrame], pd.DataFrame],
    message: str,
) -> None:
    params, _ = _setup(project)
    root = project.parent
    data = root / params.data.path
    before = data.read_bytes()
    name = _write(root, "new.csv", change(make_frame(rows=20, seed=9)))
    with pytest.raises(DataError, match=message):
        update_training_data(params, root, name)
    assert data.read_bytes() == before


def _ledger(root: Path) -> list[dict[str, Any]]:
    ledger: dict[str, Any] = json.loads((root / "data" / "data.csv.batches.json").read_text())
    return list(ledger["batches"])


def test_a_batch_is_folded_in_once_and_recorded_by_content(
    project: Path, make_frame: Callable[..., Any]
) -> None:
    """Appending the same rows twice (a second retrain, the same batch under another name)."""
    params, _ = _setup(project)
    root = project.parent
    batch = make_frame(rows=20, seed=9)
    first = update_training_data(params, root, _write(root, "a.csv", batch))
    data = (root / "data" / "data.csv").read_bytes()
    again = update_training_data(params, root, _write(root, "b.csv", batch))
    assert again.already_folded
    assert (again.added_rows, again.rows_after) == (0, 220)
    assert (root / "data" / "data.csv").read_bytes() == data
    (entry,) = _ledger(root)
    assert entry["batch_sha256"] == first.batch_sha256 == again.batch_sha256
    assert (entry["before_sha256"], entry["after_sha256"], entry["rows"]) == (
        first.before_sha256,
        sha256_file(root / "data" / "data.csv"),
        20,
    )


def test_a_kill_between_the_ledger_and_the_data_applies_the_batch_once(
    project: Path, make_frame: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after the ledger was written and before the data was: the rerun adds it, once."""
    params, _ = _setup(project)
    root = project.parent
    name = _write(root, "new.csv", make_frame(rows=20, seed=9))
    data = root / "data" / "data.csv"
    before = data.read_bytes()

    def killed(path: Path, _: bytes) -> None:
        raise KeyboardInterrupt(f"killed before writing {path}")

    with monkeypatch.context() as patch:
        patch.setattr(data_update, "atomic_write_bytes", killed)
        with pytest.raises(KeyboardInterrupt):
            update_training_data(params, root, name)
    assert data.read_bytes() == before
    assert len(_ledger(root)) == 1, "the ledger was written first"
    rerun = update_training_data(params, root, name)
    assert not rerun.already_folded
    assert len(pd.read_csv(data)) == 220
    assert update_training_data(params, root, name).already_folded  # and not again
    assert len(pd.read_csv(data)) == 220
    assert len(_ledger(root)) == 1


def test_restore_gives_the_data_back_and_forgets_the_batch(
    project: Path, make_frame: Callable[..., Any]
) -> None:
    params, _ = _setup(project)
    root = project.parent
    data = root / "data" / "data.csv"
    before = data.read_bytes()
    name = _write(root, "n.csv", make_frame(rows=20, seed=9))
    update = update_training_data(params, root, name)
    assert (root / update.backup).is_file()
    restore_training_data(update)
    assert data.read_bytes() == before
    assert _ledger(root) == []
    assert not (root / update.backup).exists()
    again = update_training_data(params, root, "n.csv")  # it may be folded in later
    assert not again.already_folded
    finish_update(again)
    assert not (root / again.backup).exists()
    assert [p.name for p in data.parent.iterdir() if p.name.startswith(".")] == []


def test_the_data_file_keeps_its_permissions_and_its_symlink(
    project: Path, make_frame: Callable[..., Any]
) -> None:
    params, _ = _setup(project)
    root = project.parent
    real = root / "data" / "real.csv"
    (root / "data" / "data.csv").rename(real)
    real.chmod(0o600)
    (root / "data" / "data.csv").symlink_to("real.csv")
    name = _write(root, "n.csv", make_frame(rows=20, seed=9))
    update = update_training_data(params, root, name)
    link = root / "data" / "data.csv"
    assert link.is_symlink()
    assert link.readlink() == Path("real.csv")
    assert len(pd.read_csv(real)) == 220
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert stat.S_IMODE((root / update.backup).stat().st_mode) == 0o600, "no wider copy either"
    restore_training_data(update)
    assert link.is_symlink()
    assert len(pd.read_csv(real)) == 200
    assert stat.S_IMODE(real.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "source", ["../outside.csv", "/etc/passwd", "/proc/self/environ", "data/../../x/*.csv"]
)
def test_a_batch_outside_the_project_is_never_read(
    project: Path, source: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (project.parent.parent / "outside.csv").write_text("age,target\n1,yes\n")
    code = cli.main(["monitor", "--params", str(project), "--current", source])
    err = capsys.readouterr().err
    assert code == 2
    assert "outside the project" in err
    assert err.count("\n") == 1


def _summary(*failed: str, labelled: bool = True) -> MonitorSummary:
    names = [*gates.DRIFT_GATES, *gates.INTEGRITY_GATES]
    judged = [gates.judge(n, 0.5 if n in failed else 0.0, 0.2) for n in names]
    verdict = verdict_of(judged)
    return MonitorSummary.parse(
        {
            "verdict": verdict,
            "passed": verdict == "stable",
            "exit_code": 0 if verdict == "stable" else monitor.EXIT_DRIFT,
            "retrain": False,
            "created_at": "2026-01-01T00:00:00Z",
            "thresholds": {},
            "gates": [gate.to_dict() for gate in judged],
            "skipped": [] if labelled else [{"name": "label_drift", "reason": "no target"}],
            "drifted_features": ["age"] if "feature_drift" in failed else [],
            "features": {"age": {"drift_score": 0.5, "method": "Kolmogorov-Smirnov"}},
            "batch": {
                "source": "b.csv",
                "rows": 60,
                "labelled": labelled,
                "sampled_rows": 60,
                "files": [{"path": "b.csv", "rows": 60, "sha256": "ab" * 32}],
            },
            "reference": {
                "path": "data/data.csv",
                "sha256": "ef" * 32,
                "rows": 200,
                "sampled_rows": 200,
            },
            "model": {"path": "artifacts/model.joblib", "sha256": "cd" * 32},
        },
        "monitor.json",
    )


def test_the_verdict_separates_drift_from_a_broken_batch() -> None:
    assert _summary().verdict == "stable"
    assert _summary("feature_drift").verdict == "drift"
    assert _summary("feature_drift", "null_ratio").verdict == "bad-batch"


def test_the_verdict_table_and_the_markdown_name_the_failed_checks_and_features() -> None:
    summary = _summary("feature_drift", labelled=False)
    table = monitor.summary_table(summary)
    assert "feature_drift" in table
    assert "FAIL" in table
    assert "drifted features: age" in table
    assert table.splitlines()[-1] == "verdict: drift (batch b.csv, 60 rows)"
    markdown = monitor.render_markdown(summary)
    assert markdown.startswith("## Drift monitoring: ⚠️ drift")
    assert "| feature_drift | 0.500 | 0.200 | **fail** |" in markdown
    assert "| label_drift | - | - | skipped: no target |" in markdown
    assert "- `age`: 0.500 (Kolmogorov-Smirnov)" in markdown


def test_a_newer_monitor_record_is_refused_in_one_line() -> None:
    newer = _summary().to_json() | {"schema_version": SCHEMA_VERSION + 1}
    with pytest.raises(ArtifactError, match=r"^monitor\.json: schema_version 2 is newer") as raised:
        MonitorSummary.parse(newer, "monitor.json")
    assert "\n" not in str(raised.value)


def test_github_output_appends_step_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    cli.write_github_output({"verdict": "drift", "retrain": "true"})
    assert out.read_text() == "verdict=drift\nretrain=true\n"


def test_cli_exits_2_with_one_error_line_for_a_bad_batch(
    project: Path, make_frame: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    _write(project.parent, "bad.csv", make_frame(rows=60).drop(columns=["plan"]))
    code = cli.main(["monitor", "--params", str(project), "--current", "bad.csv"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_ERROR == 2
    assert err.startswith("error: bad.csv: missing column(s)")
    assert err.count("\n") == 1
    assert not (project.parent / "artifacts" / MONITOR_JSON).exists()


def test_cli_without_a_model_says_to_train_first(
    project: Path, make_frame: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    _write(project.parent, "b.csv", make_frame(rows=60))
    code = cli.main(["monitor", "--params", str(project), "--current", "b.csv"])
    assert code == 2
    assert "run `make train` first" in capsys.readouterr().err


def test_cli_update_data_refuses_an_unlabelled_batch(
    project: Path, make_frame: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    _write(project.parent, "u.csv", make_frame(rows=60).drop(columns=["target"]))
    code = cli.main(["update-data", "--params", str(project), "--current", "u.csv"])
    assert code == 2
    assert "retraining needs labelled data" in capsys.readouterr().err


def test_cli_batches_and_update_data_report_what_they_did(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert cli.main(["batches", "--params", str(project), "--rows", "60"]) == 0
    assert "drifted.csv shifts: age, income, visits" in capsys.readouterr().out
    out = tmp_path / "gh"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    argv = ["update-data", "--params", str(project), "--current", "data/batches/stable.csv"]
    assert cli.main([*argv, "--github-output"]) == 0
    assert "200 -> 260 rows" in capsys.readouterr().out
    assert out.read_text() == (
        "data_path=data/data.csv\nledger_path=data/data.csv.batches.json\nadd_paths=\nrows=260\n"
    )
    assert cli.main(argv) == 0  # the same batch again
    assert "is already in data/data.csv (batch sha256 " in capsys.readouterr().out
    assert len(pd.read_csv(project.parent / "data" / "data.csv")) == 260


def test_the_commands_parse_their_arguments_and_import_no_heavy_library() -> None:
    args = cli.build_parser().parse_args(["monitor", "--current", "b/*.csv", "--exit-zero"])
    assert (args.run, args.current, args.exit_zero, args.params) == (
        cli.monitoring.cmd_monitor,
        "b/*.csv",
        True,
        "params.yaml",
    )
    names = [command.name for command in cli.COMMANDS]
    assert {"monitor", "batches", "update-data"} <= set(names)
    heavy = "{'pandas', 'sklearn', 'deepchecks'}"
    code = f"import sys, {monitor.__name__}; print(sorted({heavy} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
