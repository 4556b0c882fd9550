"""Drift monitoring: compare a batch of new data with the training data, and fold it in.

The library behind three commands of the CLI (``python -m <package> COMMAND``; the Makefile's
``monitor``, ``batches`` and ``retrain`` targets):

- ``monitor``: validate the batch with the training data's own rules, then run deepchecks on a
  sample of both: feature drift, label drift (when the batch has the target column), drift of
  the predictions of ``artifacts/model.joblib``, categories unseen in training, and the batch's
  own integrity (missing values, duplicates). Writes ``artifacts/monitor.json`` (summary),
  ``artifacts/monitor.md`` (the same as Markdown, e.g. a pull-request body) and
  ``artifacts/monitor.html`` (the deepchecks report), and prints a verdict table.
- ``batches``: write two example batches from the training data, ``stable.csv`` (rows drawn
  from it) and ``drifted.csv`` (a few numeric features shifted), deterministic for a seed.
- ``update-data`` / ``retrain``: append a labelled batch to the training data (or replace it,
  per ``monitor.retrain``) atomically, keeping the training file's columns, permissions and
  symlink. The content hash of every batch folded in is recorded in a ledger next to the data
  (``<data file>.batches.json``), written before the data: a batch is never added twice, also
  when a run was killed half-way. ``retrain`` then retrains and re-runs the gates, and gives the
  data its previous content back (kept in a backup until the gates decide) if they fail.

Exit status of ``monitor``: 0 stable, 2 unusable input (``error: ...`` on stderr, nothing
written), 3 (:data:`EXIT_DRIFT`) a monitoring threshold was exceeded (reports written).
"""

from __future__ import annotations

import glob
import hashlib
import stat
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import git
from .artifacts import (
    StagingDir,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    display_path,
    ensure_inside,
    glob_base,
    sha256_file,
    sweep_stale,
    write_new_file,
)
from .errors import DataError
from .gates import (
    DRIFT_GATES,
    INTEGRITY_GATES,
    MONITOR_GATES,
    Context,
    FeatureDriftScore,
    Gate,
    drifted_features,
    evaluate,
    feature_drift_scores,
    results_by_check,
    verdict_table,
)
from .layout import MONITOR_JSON, ArtifactLayout
from .records import (
    BatchFile,
    BatchInfo,
    GateResult,
    ModelInfo,
    MonitorSummary,
    ReferenceInfo,
    Skipped,
    Verdict,
)
from .traffic import PREFIX, SUFFIX, log_files, read_log

if TYPE_CHECKING:
    import pandas as pd

    from .config import Params
    from .data import Dataset

#: Exit status when a monitoring threshold is exceeded (2 stays "unusable input").
EXIT_DRIFT = 3

#: The ledger of the batches folded into a training data file: ``<data file>.batches.json``.
LEDGER_SUFFIX = ".batches.json"

#: The example drifted batch shifts this many numeric features by SHIFT_STD standard deviations.
SHIFTED_FEATURES = 3
SHIFT_STD = 1.0
BATCH_ROWS = 200


@dataclass(frozen=True)
class Batch:
    """A validated batch of new data: one or more CSV files read as one frame."""

    frame: pd.DataFrame
    raw: pd.DataFrame
    labelled: bool
    files: list[BatchFile] = field(default_factory=list)
    source: str = ""


# --- Where the batch comes from -------------------------------------------------------------


def resolve_source(source: str, root: Path, folders: list[Path] | None = None) -> list[Path]:
    """Return the batch files a source names: a path, a glob read in name order, or a folder.

    A folder is a traffic log (:mod:`.traffic`): its ``traffic-*.jsonl`` files, in name order.

    Every file must resolve (symlinks followed) inside ``folders`` (default: the project): a
    batch path from a workflow input never reads a file elsewhere.

    Raises:
        DataError: if the file does not exist, or nothing matches the glob.
        PathError: if a file resolves outside ``folders``.
    """
    folders = folders or [root]
    what = "the batch (CURRENT or monitor.source)"
    ensure_inside(root / glob_base(source), folders, f"{what} {source!r}")
    pattern = str(root / source)
    if glob.has_magic(source):
        matches = glob.glob(pattern, recursive=True)  # noqa: PTH207 - absolute patterns too
        paths = sorted(Path(p) for p in matches if Path(p).is_file())
        if not paths:
            raise DataError(f"{source}: no file matches this pattern (monitor.source or CURRENT)")
    elif Path(pattern).is_dir():
        paths = log_files(Path(pattern))
        if not paths:
            raise DataError(
                f"{source}: a folder without traffic log files ({PREFIX}*{SUFFIX}): has the "
                "service answered /predict with serving.traffic_log on? (monitor.source or CURRENT)"
            )
    else:
        paths = [Path(pattern)]
        if not paths[0].exists():
            raise DataError(f"{source}: file not found (the batch: CURRENT or monitor.source)")
    for path in paths:
        ensure_inside(path, folders, f"{what} {display_path(path, root)!r}")
    return paths


def _validate_file(
    raw: pd.DataFrame, label: str, params: Params, reference: Dataset
) -> tuple[pd.DataFrame, bool]:
    """Validate one batch file with the training data's rules; return (frame, labelled).

    The features follow the training data's rules; a target column, when present, must have no
    missing values (and be numeric for regression). A batch may hold a single class: the class
    count and split rules of the training data do not apply to it.
    """
    from .data import FeatureSchema, validate_features, validate_target

    columns = [str(c) for c in raw.columns]
    missing = [c for c in reference.features if c not in columns]
    if missing:
        raise DataError(
            f"{label}: missing column(s) the model was trained on: "
            f"{', '.join(map(repr, missing))}; columns are: {', '.join(columns)}"
        )
    pinned = FeatureSchema.of(params).pinned(reference.numeric, reference.categorical)
    frame, numeric, categorical = validate_features(raw, pinned, label)
    target = params.data.target
    if target not in columns:
        return frame[[*numeric, *categorical]], False
    frame = validate_target(frame, pinned, label)
    return frame[[*numeric, *categorical, target]], True


def load_batch(
    source: str, params: Params, reference: Dataset, root: Path, *, min_rows: int
) -> Batch:
    """Read and validate the batch files of ``source``; return them as one :class:`Batch`.

    CSV files, and traffic log files (``.jsonl``: the rows the service predicted, features only).

    Raises:
        DataError: for a missing, empty or malformed file, missing feature columns, values of
            the wrong type (the same messages as for the training data), a mix of labelled and
            unlabelled files, or fewer than ``min_rows`` rows.
    """
    import pandas as pd

    from .config import data_folders
    from .data import read_csv  # the training data's reader: same errors for a bad batch

    frames, raws, files, labelled = [], [], [], set()
    for path in resolve_source(source, root, data_folders(params, root)):
        label = display_path(path, root)
        raw = read_log(path, label) if path.suffix == SUFFIX else read_csv(path, label)
        frame, has_target = _validate_file(raw, label, params, reference)
        frames.append(frame)
        raws.append(raw)
        labelled.add(has_target)
        files.append(BatchFile(path=label, sha256=sha256_file(path), rows=len(frame)))
    if len(labelled) > 1:
        with_target = [f.path for f, r in zip(files, raws, strict=True) if params.data.target in r]
        raise DataError(
            f"{source}: some batch files have the target column {params.data.target!r} and some "
            f"do not (with it: {', '.join(with_target)}); check labelled and unlabelled data apart"
        )
    frame = pd.concat(frames, ignore_index=True)
    if len(frame) < min_rows:
        raise DataError(
            f"{source}: {len(frame)} row(s); monitoring needs at least {min_rows} "
            "(monitor.min_rows in params): drift scores on fewer rows are noise"
        )
    return Batch(
        frame=frame,
        raw=pd.concat(raws, ignore_index=True),
        labelled=labelled == {True},
        files=files,
        source=source,
    )


# --- The checks -----------------------------------------------------------------------------


def _checks(
    params: Params, labelled: bool, feature_count: int
) -> tuple[list[Any], list[Any]]:  # deepchecks checks: untyped library objects
    """Build the checks :data:`~.gates.MONITOR_GATES` read: (drift checks, batch integrity)."""
    from deepchecks.tabular.checks import (
        DataDuplicates,
        FeatureDrift,
        LabelDrift,
        NewCategoryTrainTest,
        PercentOfNulls,
        PredictionDrift,
    )

    seed = params.seed
    drift = [
        FeatureDrift(n_top_columns=min(feature_count, 10), random_state=seed),
        *([LabelDrift(random_state=seed)] if labelled else []),
        PredictionDrift(random_state=seed),
        NewCategoryTrainTest(),
    ]
    return drift, [PercentOfNulls(), DataDuplicates()]


@dataclass(frozen=True)
class MonitorResult:
    """The judged gates of a batch, its per-feature drift scores and the deepchecks results."""

    gates: list[Gate]
    skipped: dict[str, str]
    features: dict[str, FeatureDriftScore]
    suite: Any = field(repr=False)  # a deepchecks SuiteResult, for monitor.html


def run_checks(
    reference: Dataset,
    batch: Batch,
    model: Any,  # noqa: ANN401 - a fitted scikit-learn Pipeline
    params: Params,
) -> MonitorResult:
    """Run the drift and integrity checks on samples of the training data and the batch.

    The gates are judged by :func:`~.gates.evaluate` (:data:`~.gates.MONITOR_GATES`), with
    the same rule as ``make check``: a value at its threshold passes.

    Raises:
        DataError: if deepchecks cannot run a check on this data.
    """
    import pandas as pd

    from .checks import build_dataset, import_deepchecks, label_type, sample

    import_deepchecks()  # imported with telemetry off and the stack's known warnings silenced
    from deepchecks.core.check_result import CheckFailure
    from deepchecks.core.suite import SuiteResult

    target = reference.target
    size, seed = params.monitor.sample_size, params.seed
    stratify = target if params.task == "classification" else None
    ref_frame = sample(reference.frame, size, seed, stratify)
    cur_frame = sample(batch.frame, size, seed, stratify if batch.labelled else None)
    features = reference.features
    kind = label_type(params.task, len(reference.classes or []))
    # deepchecks needs the label on both sides or on neither.
    label = target if batch.labelled else None
    ref_ds, cur_ds = (
        build_dataset(frame, features, reference.categorical, kind, label)
        for frame in (ref_frame, cur_frame)
    )
    drift_checks, integrity_checks = _checks(params, batch.labelled, len(features))
    # Uniform importances: the drift scores do not use them, and deepchecks would otherwise
    # spend most of the run on permutation importance.
    importance = pd.Series(1 / len(features), index=features)
    results = [
        check.run(
            ref_ds,
            cur_ds,
            model=model,
            feature_importance=importance,
            model_classes=reference.classes,
            with_display=True,
        )
        for check in drift_checks
    ]
    results += [check.run(cur_ds, with_display=True) for check in integrity_checks]
    failures = [r for r in results if isinstance(r, CheckFailure)]
    if failures:
        failure = failures[0]
        raise DataError(f"deepchecks could not run {failure.header}: {failure.exception}")
    by_check = results_by_check(results)
    ctx = Context(params.task, target, list(features), list(reference.categorical), batch.labelled)
    thresholds = params.monitor.thresholds.model_dump()
    gates, skipped = evaluate(MONITOR_GATES, by_check, thresholds, ctx)
    scores = feature_drift_scores(by_check[MONITOR_GATES["feature_drift"].check_class].value)
    return MonitorResult(gates, skipped, scores, SuiteResult("Drift monitoring", results))


def verdict_of(gates: list[Gate]) -> Verdict:
    """``stable``, ``bad-batch`` (an integrity gate failed) or ``drift``."""
    failed = {gate.name for gate in gates if not gate.passed}
    if failed & set(INTEGRITY_GATES):
        return "bad-batch"
    return "drift" if failed else "stable"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def monitor(
    params: Params,
    root: Path,
    artifacts_dir: Path,
    current: str | None = None,
) -> MonitorSummary:
    """Check a batch for drift and write monitor.json, monitor.md and monitor.html.

    Args:
        params: validated parameters (``monitor`` section: source, thresholds, sampling).
        root: project directory; data paths are relative to it.
        artifacts_dir: where the model is and the reports go.
        current: batch path or glob overriding ``monitor.source``.

    Returns:
        The record written to ``monitor.json``.

    Raises:
        ProjectError: for unusable input (bad batch file, no model); nothing is written then.
    """
    from .checks import gates_html, load_model, quiet_stack, save_html
    from .config import data_folders
    from .data import load_dataset
    from .lineage import ensure_current

    clock = time.perf_counter()
    source = current or params.monitor.source
    resolve_source(source, root, data_folders(params, root))  # refuse a bad path before reading
    reference = load_dataset(params, root)
    batch = load_batch(source, params, reference, root, min_rows=params.monitor.min_rows)
    layout = ArtifactLayout(artifacts_dir)
    ensure_current(params, root, artifacts_dir)  # the model was trained on this data and params
    model = load_model(artifacts_dir)
    with quiet_stack():
        result = run_checks(reference, batch, model, params)
    verdict = verdict_of(result.gates)
    drift_failed = any(not g.passed for g in result.gates if g.name in DRIFT_GATES)
    sampled = params.monitor.sample_size
    thresholds = params.monitor.thresholds
    summary = MonitorSummary(
        verdict=verdict,
        passed=verdict == "stable",
        exit_code=0 if verdict == "stable" else EXIT_DRIFT,
        retrain=verdict == "drift" and drift_failed and batch.labelled,
        created_at=_now(),
        batch=BatchInfo(
            source=source,
            files=batch.files,
            rows=len(batch.frame),
            labelled=batch.labelled,
            sampled_rows=min(len(batch.frame), sampled),
        ),
        reference=ReferenceInfo(
            path=params.data.path,
            sha256=reference.sha256,
            rows=len(reference.frame),
            sampled_rows=min(len(reference.frame), sampled),
        ),
        model=ModelInfo(path=display_path(layout.model, root), sha256=sha256_file(layout.model)),
        thresholds=thresholds.model_dump(),
        gates=[GateResult(**gate.to_dict()) for gate in result.gates],
        drifted_features=drifted_features(result.features, thresholds.feature_drift),
        # Rounded as gate values are (judged unrounded).
        features={
            name: FeatureDriftScore(round(score.drift_score, 6), score.method)
            for name, score in result.features.items()
        },
        skipped=[Skipped(name=n, reason=r) for n, r in result.skipped.items()],
        seconds=round(time.perf_counter() - clock, 2),
    )
    with StagingDir(artifacts_dir) as stage:
        staged = ArtifactLayout(stage.path)
        # One setting for every deepchecks page: checks.html_connected. The page opens with the
        # gates' table, as checks.html does.
        save_html(
            result.suite,
            staged.monitor_html,
            params.checks.html_connected,
            preface=gates_html(result.gates, result.skipped),
        )
        atomic_write_text(staged.monitor_md, render_markdown(summary))
        atomic_write_json(staged.monitor, summary.to_json())
        stage.commit(order=[MONITOR_JSON])
    return summary


# --- Presentation ---------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def summary_table(summary: MonitorSummary) -> str:
    """The gates as a plain-text table (:func:`~.gates.verdict_table`), then the verdict."""
    gates = [Gate(**gate.model_dump()) for gate in summary.gates]
    lines = [verdict_table(gates, {entry.name: entry.reason for entry in summary.skipped})]
    if summary.drifted_features:
        lines.append(f"drifted features: {', '.join(summary.drifted_features)}")
    lines.append(
        f"verdict: {summary.verdict} (batch {summary.batch.source}, {summary.batch.rows} rows)"
    )
    return "\n".join(lines)


def render_markdown(summary: MonitorSummary) -> str:
    """A Markdown rendering of monitor.json (pull-request body, job summary)."""
    icon = {"stable": "✅", "drift": "⚠️", "bad-batch": "❌"}[summary.verdict]
    batch, ref = summary.batch, summary.reference
    lines = [
        f"## Drift monitoring: {icon} {summary.verdict}",
        "",
        f"Batch `{batch.source}`: {batch.rows} rows"
        f" ({'labelled' if batch.labelled else 'unlabelled'}), compared with the training data"
        f" `{ref.path}` ({ref.rows} rows) and the model `{summary.model.path}`"
        f" (sha256 `{summary.model.sha256[:12]}`).",
        "",
        "| check | value | threshold | result |",
        "| --- | ---: | ---: | --- |",
    ]
    for gate in summary.gates:
        result = "pass" if gate.passed else "**fail**"
        lines.append(f"| {gate.name} | {_fmt(gate.value)} | {_fmt(gate.threshold)} | {result} |")
    for skipped in summary.skipped:
        lines.append(f"| {skipped.name} | - | - | skipped: {skipped.reason} |")
    if summary.drifted_features:
        lines += ["", "Drifted features (drift score above the threshold):", ""]
        for name in summary.drifted_features:
            info = summary.features[name]
            lines.append(f"- `{name}`: {info.drift_score:.3f} ({info.method})")
    lines += ["", "Batch files:", ""]
    lines += [f"- `{f.path}`: {f.rows} rows, sha256 `{f.sha256[:12]}`" for f in batch.files]
    return "\n".join(lines) + "\n"


# --- Example batches ------------------------------------------------------------------------


def make_batches(
    raw: pd.DataFrame, reference: Dataset, seed: int, rows: int = BATCH_ROWS
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Return (stable, drifted, shifted feature names) drawn from the training data's rows.

    The stable batch is a random sample of the rows; the drifted batch is another sample whose
    first :data:`SHIFTED_FEATURES` numeric features with at least 10 distinct values are moved by
    :data:`SHIFT_STD` standard deviations (or, without such features, whose first categorical
    feature takes its rarest value in half of the rows). Both keep the file's columns.
    """
    import numpy as np

    rows = min(rows, len(raw))
    stable = raw.sample(n=rows, random_state=seed).reset_index(drop=True)
    drifted = raw.sample(n=rows, random_state=seed + 1).reset_index(drop=True)
    frame = reference.frame
    numeric = [c for c in reference.numeric if frame[c].nunique() >= 10][:SHIFTED_FEATURES]
    for column in numeric:
        values = drifted[column].astype("float64")
        drifted[column] = (values + SHIFT_STD * float(frame[column].std())).round(6)
    shifted = list(numeric)
    if not shifted and reference.categorical:
        column = reference.categorical[0]
        rarest = frame[column].value_counts().index[-1]
        rng = np.random.default_rng(seed)
        drifted.loc[rng.random(rows) < 0.5, column] = rarest
        shifted = [column]
    return stable, drifted, shifted


def write_batches(
    params: Params, root: Path, out_dir: Path, rows: int = BATCH_ROWS
) -> dict[str, Any]:
    """Write ``stable.csv`` and ``drifted.csv`` under ``out_dir``; return what was written."""
    from .data import load_dataset, read_csv

    reference = load_dataset(params, root)
    raw = read_csv(reference.path, params.data.path)
    stable, drifted, shifted = make_batches(raw, reference, params.seed, rows)
    written = {}
    for name, frame in (("stable", stable), ("drifted", drifted)):
        path = out_dir / f"{name}.csv"
        atomic_write_text(path, frame.to_csv(index=False, lineterminator="\n"))
        written[name] = path
    return {"paths": written, "rows": len(stable), "shifted": shifted}


# --- Retraining data ------------------------------------------------------------------------


@dataclass(frozen=True)
class DataUpdate:
    """A batch folded into the training data (or found there already), until the gates decide.

    Paths are as params.yaml names them (relative to the project); ``backup`` holds the data's
    previous content, for :func:`restore_training_data`, until :func:`finish_update`.
    """

    root: Path
    path: str
    ledger: str
    backup: str
    mode: str
    source: str
    batch_sha256: str
    before_sha256: str
    after_sha256: str
    rows_before: int
    rows_after: int
    added_rows: int
    already_folded: bool
    filled_columns: list[str] = field(default_factory=list)
    dropped_columns: list[str] = field(default_factory=list)


def ledger_path(data_path: str) -> str:
    """The ledger of a training data file: the batches folded into it (:data:`LEDGER_SUFFIX`)."""
    return data_path + LEDGER_SUFFIX


def backup_path(data_path: str, before_sha256: str) -> str:
    """Where the data's content before a batch is kept while the gates decide (hidden, by hash)."""
    path = Path(data_path)
    return str(path.with_name(f".{path.name}.{before_sha256[:16]}.before"))


def read_ledger(root: Path, data_path: str) -> list[dict[str, Any]]:
    """The batches folded into ``data_path``, oldest first (empty without a ledger)."""
    from .artifacts import read_json

    path = root / ledger_path(data_path)
    if not path.is_file():
        return []
    batches = read_json(path).get("batches")
    if not isinstance(batches, list):
        raise DataError(f"{ledger_path(data_path)}: no 'batches' list (the ledger is damaged)")
    return batches


def _write_ledger(root: Path, data_path: str, batches: list[dict[str, Any]]) -> None:
    atomic_write_json(root / ledger_path(data_path), {"data": data_path, "batches": batches})


def update_training_data(
    params: Params, root: Path, current: str | None = None, mode: str | None = None
) -> DataUpdate:
    """Fold a labelled batch into the training data (append it, or replace the data), once.

    The batch is validated like the training data, reordered to the training file's columns
    (extra columns are dropped, missing non-feature columns are left empty) and the combined
    data is validated again before the file is replaced. In append mode the existing bytes are
    kept as they are and the batch's rows are added after them (a reviewable diff).

    The order makes a kill harmless: the data's current content is backed up, the batch's
    content hash (of the rows as appended) goes into the ledger with the data's hash before and
    after, and only then is the data replaced (atomically, keeping its permissions and
    symlink). A batch whose hash the ledger already holds is not added again, unless the data
    still has the content from before it (the kill came before the data was replaced).

    Raises:
        DataError: for an unlabelled or invalid batch; the training file is then unchanged.
    """
    from .config import data_folders
    from .data import load_dataset, read_csv, validate_frame

    mode = mode or params.monitor.retrain
    source = current or params.monitor.source
    resolve_source(source, root, data_folders(params, root))  # refuse a bad path before reading
    reference = load_dataset(params, root)
    sweep_stale(reference.path.parent)  # temporary files of a killed update
    batch = load_batch(source, params, reference, root, min_rows=1)
    if not batch.labelled:
        raise DataError(
            f"{source}: no target column {params.data.target!r}; retraining needs labelled data "
            "(add the labels, or run `make monitor` for a drift check only)"
        )
    data_path = params.data.path
    before_bytes = reference.path.read_bytes()
    original = read_csv(reference.path, data_path)
    columns = [str(c) for c in original.columns]
    rows = batch.raw.reindex(columns=columns)
    body = rows.to_csv(index=False, header=False, lineterminator="\n")
    batch_sha256 = hashlib.sha256(body.encode("utf-8")).hexdigest()
    combined = rows if mode == "replace" else _concat(original, rows)
    validate_frame(combined, params, f"{data_path} with {source}")
    if mode == "replace":
        after_bytes = rows.to_csv(index=False, lineterminator="\n").encode("utf-8")
    else:
        separator = b"" if before_bytes.endswith(b"\n") else b"\n"
        after_bytes = before_bytes + separator + body.encode("utf-8")
    ledger = read_ledger(root, data_path)
    entry = next((e for e in ledger if e.get("batch_sha256") == batch_sha256), None)
    # Folded in already unless the data still has the content from before the batch.
    folded = entry is not None and reference.sha256 != entry.get("before_sha256")
    update = DataUpdate(
        root=root,
        path=data_path,
        ledger=ledger_path(data_path),
        backup=backup_path(data_path, (entry or {}).get("before_sha256") or reference.sha256),
        mode=mode,
        source=source,
        batch_sha256=batch_sha256,
        before_sha256=(entry or {}).get("before_sha256") or reference.sha256,
        after_sha256=(entry or {}).get("after_sha256") or hashlib.sha256(after_bytes).hexdigest(),
        rows_before=len(original),
        rows_after=len(original) if folded else len(combined),
        added_rows=0 if folded else len(rows),
        already_folded=folded,
        filled_columns=[c for c in columns if c not in batch.raw.columns],
        dropped_columns=[str(c) for c in batch.raw.columns if str(c) not in columns],
    )
    if update.already_folded:
        return update
    file_mode = stat.S_IMODE(reference.path.stat().st_mode)
    write_new_file(root / update.backup, before_bytes, mode=file_mode)
    if entry is None:
        ledger.append(
            {
                "batch_sha256": batch_sha256,
                "source": source,
                "files": [f.model_dump() for f in batch.files],
                "rows": len(rows),
                "mode": mode,
                "before_sha256": update.before_sha256,
                "after_sha256": update.after_sha256,
                "added_at": _now(),
            }
        )
        _write_ledger(root, data_path, ledger)
    atomic_write_bytes(root / data_path, after_bytes)
    return update


def restore_training_data(update: DataUpdate) -> None:
    """Give the data its content from before ``update`` and drop the batch from the ledger.

    For a retrain whose gates failed: the data is as it was, and a later run may fold the batch
    in again. The file keeps its permissions and symlink.

    Raises:
        DataError: if the backup is gone or the data changed since the update (nothing is
            written then).
    """
    root = update.root
    backup = root / update.backup
    if not backup.is_file():
        raise DataError(f"{update.backup}: the backup of {update.path} is gone; cannot restore it")
    if sha256_file(root / update.path) not in (update.after_sha256, update.before_sha256):
        raise DataError(f"{update.path} changed since the batch was added; not restoring it")
    atomic_write_bytes(root / update.path, backup.read_bytes())
    ledger = read_ledger(root, update.path)
    _write_ledger(
        root, update.path, [e for e in ledger if e.get("batch_sha256") != update.batch_sha256]
    )
    backup.unlink()


def finish_update(update: DataUpdate) -> None:
    """Keep the batch: remove the backup of the data's previous content."""
    (update.root / update.backup).unlink(missing_ok=True)


def _concat(original: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    return pd.concat([original, rows], ignore_index=True)


def version_update(update: DataUpdate) -> list[str]:
    """Version the updated training data with DVC and stage what the retrain PR commits.

    The data file is tracked again (its pointer names the new bytes) and pushed to the DVC
    remote; the pointer, the ledger and a .gitignore DVC wrote are staged with ``git add`` (the
    data file itself stays out of git). Returns the staged paths, relative to the project.

    Raises:
        DataError: if DVC cannot track or push the data (one line naming the remote).
        ProjectError: if git refuses to stage a path.
    """
    from .datastore import push, track

    root = update.root
    version = track(root, update.path)
    push(root, update.path)
    paths = [version.pointer, update.ledger]
    ignore = Path(update.path).parent / ".gitignore"  # DVC writes one outside ignored folders
    if (root / ignore).is_file():
        paths.append(ignore.as_posix())
    git.add(root, paths)
    return paths
