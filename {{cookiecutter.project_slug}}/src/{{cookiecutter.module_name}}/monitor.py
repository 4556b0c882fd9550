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
- ``update-data``: append a labelled batch to the training data (or replace it, per
  ``monitor.retrain``) atomically, keeping the training file's columns; ``make retrain`` then
  retrains and re-runs the gates.

Exit status of ``monitor``: 0 stable, 2 unusable input (``error: ...`` on stderr, nothing
written), 3 (:data:`EXIT_DRIFT`) a monitoring threshold was exceeded (reports written).
"""

from __future__ import annotations

import glob
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .artifacts import (
    StagingDir,
    atomic_write_json,
    atomic_write_text,
    display_path,
    sha256_file,
)
from .errors import DataError, ProjectError
from .gates import Gate, judge, verdict_table

if TYPE_CHECKING:
    import pandas as pd

    from .config import Params
    from .data import Dataset

#: Exit status when a monitoring threshold is exceeded (2 stays "unusable input").
EXIT_DRIFT = 3

SUMMARY_FILE = "monitor.json"
MARKDOWN_FILE = "monitor.md"
HTML_FILE = "monitor.html"
MODEL_FILE = "model.joblib"
BATCHES_DIR = Path("data/batches")

#: Gates that measure drift (their failure suggests retraining) vs. the batch's own health.
DRIFT_GATES = ("feature_drift", "label_drift", "prediction_drift", "new_category_ratio")
INTEGRITY_GATES = ("null_ratio", "duplicate_ratio")
DRIFT_SUITE, INTEGRITY_SUITE = "monitor-drift", "monitor-integrity"

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
    files: list[dict[str, Any]] = field(default_factory=list)
    source: str = ""


# --- Where the batch comes from -------------------------------------------------------------


def resolve_source(source: str, root: Path) -> list[Path]:
    """Return the CSV files a source names: a path, or a glob read in name order.

    Raises:
        DataError: if nothing matches.
    """
    pattern = str(root / source)
    if glob.has_magic(source):
        matches = glob.glob(pattern, recursive=True)  # noqa: PTH207 - absolute patterns too
        paths = sorted(Path(p) for p in matches if Path(p).is_file())
        if not paths:
            raise DataError(f"{source}: no file matches this pattern (monitor.source or CURRENT)")
        return paths
    return [Path(pattern)]


def _pinned_params(params: Params, reference: Dataset) -> Params:
    """Params whose feature lists are the training data's: a batch is checked against them.

    Inferring the columns again from a batch would, for instance, turn a numeric column with a
    stray text value into a categorical one instead of reporting the bad value.
    """
    data = params.data.model_copy(
        update={
            "numeric_features": reference.numeric,
            "categorical_features": reference.categorical,
        }
    )
    return params.model_copy(update={"data": data})


def _validate_file(
    raw: pd.DataFrame, label: str, params: Params, reference: Dataset
) -> tuple[pd.DataFrame, bool]:
    """Validate one batch file with the training data's rules; return (frame, labelled).

    The features follow the training data's rules; a target column, when present, must have no
    missing values (and be numeric for regression). A batch may hold a single class: the class
    count and split rules of the training data do not apply to it.
    """
    from .data import validate_features, validate_target

    columns = [str(c) for c in raw.columns]
    missing = [c for c in reference.features if c not in columns]
    if missing:
        raise DataError(
            f"{label}: missing column(s) the model was trained on: "
            f"{', '.join(map(repr, missing))}; columns are: {', '.join(columns)}"
        )
    pinned = _pinned_params(params, reference)
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

    Raises:
        DataError: for a missing, empty or malformed file, missing feature columns, values of
            the wrong type (the same messages as for the training data), a mix of labelled and
            unlabelled files, or fewer than ``min_rows`` rows.
    """
    import pandas as pd

    from .data import read_csv  # the training data's reader: same errors for a bad batch

    frames, raws, files, labelled = [], [], [], set()
    for path in resolve_source(source, root):
        label = display_path(path, root)
        if not path.exists():
            raise DataError(f"{label}: file not found (the batch: CURRENT or monitor.source)")
        raw = read_csv(path, label)
        frame, has_target = _validate_file(raw, label, params, reference)
        frames.append(frame)
        raws.append(raw)
        labelled.add(has_target)
        files.append({"path": label, "sha256": sha256_file(path), "rows": len(frame)})
    if len(labelled) > 1:
        with_target = [
            f["path"] for f, r in zip(files, raws, strict=True) if params.data.target in r
        ]
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


def _checks(params: Params, labelled: bool, feature_count: int) -> tuple[list, list]:
    """Build the deepchecks checks with conditions at the configured thresholds."""
    from deepchecks.tabular.checks import (
        DataDuplicates,
        FeatureDrift,
        LabelDrift,
        NewCategoryTrainTest,
        PercentOfNulls,
        PredictionDrift,
    )

    limits = params.monitor.thresholds
    seed = params.seed
    drift = [
        FeatureDrift(
            n_top_columns=min(feature_count, 10), random_state=seed
        ).add_condition_drift_score_less_than(limits.feature_drift, limits.feature_drift),
        PredictionDrift(random_state=seed).add_condition_drift_score_less_than(
            limits.prediction_drift
        ),
        NewCategoryTrainTest().add_condition_new_category_ratio_less_or_equal(
            limits.new_category_ratio
        ),
    ]
    if labelled:
        drift.insert(
            1, LabelDrift(random_state=seed).add_condition_drift_score_less_than(limits.label_drift)
        )
    integrity = [
        PercentOfNulls().add_condition_percent_of_nulls_not_greater_than(limits.null_ratio),
        DataDuplicates().add_condition_ratio_less_or_equal(limits.duplicate_ratio),
    ]
    return drift, integrity


def run_checks(
    reference: Dataset,
    batch: Batch,
    model: Any,  # noqa: ANN401 - a fitted scikit-learn Pipeline
    params: Params,
) -> tuple[list[Gate], dict[str, Any], Any]:
    """Run the drift and integrity checks on samples of the training data and the batch.

    Returns:
        The gates, per-feature drift scores ``{name: {"drift_score", "method"}}`` and the
        deepchecks SuiteResult (for the HTML report).

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
    by_name = {type(r.check).__name__: r for r in results}
    limits = params.monitor.thresholds
    scores = {
        str(name): {"drift_score": round(float(info["Drift score"]), 4), "method": info["Method"]}
        for name, info in by_name["FeatureDrift"].value.items()
        if info["Drift score"] is not None
    }
    drifted = sorted(
        (n for n, s in scores.items() if s["drift_score"] > limits.feature_drift),
        key=lambda n: -scores[n]["drift_score"],
    )
    top = max(scores.values(), key=lambda s: s["drift_score"], default={"drift_score": 0.0})
    gates = [
        judge(
            "feature_drift",
            top["drift_score"],
            limits.feature_drift,
            "drifted: " + ", ".join(f"{n} ({scores[n]['drift_score']:.2f})" for n in drifted)
            if drifted
            else f"max over {len(scores)} features",
            DRIFT_SUITE,
        )
    ]
    if "LabelDrift" in by_name:
        value = by_name["LabelDrift"].value
        gates.append(
            judge(
                "label_drift",
                value["Drift score"],
                limits.label_drift,
                value["Method"],
                DRIFT_SUITE,
            )
        )
    value = by_name["PredictionDrift"].value
    gates.append(
        judge(
            "prediction_drift",
            value["Drift score"],
            limits.prediction_drift,
            value["Method"],
            DRIFT_SUITE,
        )
    )
    new = by_name["NewCategoryTrainTest"].value
    ratios = new["Ratio of New Categories"] if len(new) else pd.Series(dtype=float)
    worst = ratios.idxmax() if len(ratios) else None
    gates.append(
        judge(
            "new_category_ratio",
            float(ratios.max()) if len(ratios) else 0.0,
            limits.new_category_ratio,
            f"{worst}: {', '.join(map(str, new.loc[worst, 'New categories']))}"
            if worst is not None and ratios.max() > 0
            else f"{len(reference.categorical)} categorical features",
            DRIFT_SUITE,
        )
    )
    nulls = by_name["PercentOfNulls"].value.iloc[:, 0]
    nulls = nulls[nulls.index.isin(features)]
    gates.append(
        judge(
            "null_ratio",
            float(nulls.max()) if len(nulls) else 0.0,
            limits.null_ratio,
            f"worst column: {nulls.idxmax()}"
            if len(nulls) and nulls.max() > 0
            else "no missing values",
            INTEGRITY_SUITE,
        )
    )
    gates.append(
        judge(
            "duplicate_ratio",
            float(by_name["DataDuplicates"].value),
            limits.duplicate_ratio,
            "share of duplicated rows",
            INTEGRITY_SUITE,
        )
    )
    suite = SuiteResult("Drift monitoring", results)
    return gates, scores, suite


def verdict_of(gates: list[dict[str, Any]]) -> str:
    """``stable``, ``bad-batch`` (an integrity gate failed) or ``drift``."""
    failed = {g["name"] for g in gates if not g["passed"]}
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
) -> dict[str, Any]:
    """Check a batch for drift and write monitor.json, monitor.md and monitor.html.

    Args:
        params: validated parameters (``monitor`` section: source, thresholds, sampling).
        root: project directory; data paths are relative to it.
        artifacts_dir: where the model is and the reports go.
        current: batch path or glob overriding ``monitor.source``.

    Returns:
        The summary written to ``monitor.json``.

    Raises:
        ProjectError: for unusable input (bad batch file, no model); nothing is written then.
    """
    from .checks import load_model, quiet_stack, save_html
    from .data import load_dataset
    from .lineage import ensure_current

    clock = time.perf_counter()
    reference = load_dataset(params, root)
    source = current or params.monitor.source
    batch = load_batch(source, params, reference, root, min_rows=params.monitor.min_rows)
    ensure_current(params, root, artifacts_dir)  # the model was trained on this data and params
    model = load_model(artifacts_dir)
    with quiet_stack():
        results, scores, suite = run_checks(reference, batch, model, params)
    gates = [gate.to_dict() for gate in results]
    verdict = verdict_of(gates)
    drift_failed = any(not g["passed"] for g in gates if g["name"] in DRIFT_GATES)
    summary = {
        "verdict": verdict,
        "passed": verdict == "stable",
        "exit_code": 0 if verdict == "stable" else EXIT_DRIFT,
        "retrain": bool(verdict == "drift" and drift_failed and batch.labelled),
        "created_at": _now(),
        "batch": {
            "source": source,
            "files": batch.files,
            "rows": len(batch.frame),
            "labelled": batch.labelled,
            "sampled_rows": min(len(batch.frame), params.monitor.sample_size),
        },
        "reference": {
            "path": params.data.path,
            "sha256": reference.sha256,
            "rows": len(reference.frame),
            "sampled_rows": min(len(reference.frame), params.monitor.sample_size),
        },
        "model": {
            "path": display_path(artifacts_dir / MODEL_FILE, root),
            "sha256": sha256_file(artifacts_dir / MODEL_FILE),
        },
        "thresholds": params.monitor.thresholds.model_dump(),
        "gates": gates,
        "drifted_features": [
            n
            for n, s in sorted(scores.items(), key=lambda kv: -kv[1]["drift_score"])
            if s["drift_score"] > params.monitor.thresholds.feature_drift
        ],
        "features": scores,
        "skipped": (
            []
            if batch.labelled
            else [
                {"name": "label_drift", "reason": f"the batch has no {reference.target!r} column"}
            ]
        ),
    }
    summary["seconds"] = round(time.perf_counter() - clock, 2)
    with StagingDir(artifacts_dir) as stage:
        # One setting for every deepchecks page: checks.html_connected.
        save_html(suite, stage.path / HTML_FILE, params.checks.html_connected)
        atomic_write_text(stage.path / MARKDOWN_FILE, render_markdown(summary))
        atomic_write_json(stage.path / SUMMARY_FILE, summary)
        stage.commit(order=[SUMMARY_FILE])
    return summary


# --- Presentation ---------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def summary_table(summary: dict[str, Any]) -> str:
    """The gates as a plain-text table (:func:`~.gates.verdict_table`), then the verdict."""
    gates = [Gate(**gate) for gate in summary["gates"]]
    skipped = {entry["name"]: entry["reason"] for entry in summary["skipped"]}
    lines = [verdict_table(gates, skipped)]
    if summary["drifted_features"]:
        lines.append(f"drifted features: {', '.join(summary['drifted_features'])}")
    lines.append(
        f"verdict: {summary['verdict']} (batch {summary['batch']['source']}, "
        f"{summary['batch']['rows']} rows)"
    )
    return "\n".join(lines)


def render_markdown(summary: dict[str, Any]) -> str:
    """A Markdown rendering of monitor.json (pull-request body, job summary)."""
    icon = {"stable": "✅", "drift": "⚠️", "bad-batch": "❌"}[summary["verdict"]]
    batch, ref = summary["batch"], summary["reference"]
    lines = [
        f"## Drift monitoring: {icon} {summary['verdict']}",
        "",
        f"Batch `{batch['source']}`: {batch['rows']} rows"
        f" ({'labelled' if batch['labelled'] else 'unlabelled'}), compared with the training data"
        f" `{ref['path']}` ({ref['rows']} rows) and the model `{summary['model']['path']}`"
        f" (sha256 `{summary['model']['sha256'][:12]}`).",
        "",
        "| check | value | threshold | result |",
        "| --- | ---: | ---: | --- |",
    ]
    for gate in summary["gates"]:
        result = "pass" if gate["passed"] else "**fail**"
        lines.append(
            f"| {gate['name']} | {_fmt(gate['value'])} | {_fmt(gate['threshold'])} | {result} |"
        )
    for skipped in summary["skipped"]:
        lines.append(f"| {skipped['name']} | - | - | skipped: {skipped['reason']} |")
    if summary["drifted_features"]:
        lines += ["", "Drifted features (drift score above the threshold):", ""]
        for name in summary["drifted_features"]:
            info = summary["features"][name]
            lines.append(f"- `{name}`: {info['drift_score']:.3f} ({info['method']})")
    lines += ["", "Batch files:", ""]
    lines += [
        f"- `{f['path']}`: {f['rows']} rows, sha256 `{f['sha256'][:12]}`" for f in batch["files"]
    ]
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


def write_batches(params: Params, root: Path, out_dir: Path, rows: int = BATCH_ROWS) -> dict:
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


def update_training_data(
    params: Params, root: Path, current: str | None = None, mode: str | None = None
) -> dict[str, Any]:
    """Append a labelled batch to the training data (or replace it), atomically.

    The batch is validated like the training data, reordered to the training file's columns
    (extra columns are dropped, missing non-feature columns are left empty) and the combined
    data is validated again before the file is replaced. In append mode the existing bytes are
    kept as they are and the batch's rows are added after them (a reviewable diff).

    Raises:
        DataError: for an unlabelled or invalid batch; the training file is then unchanged.
    """
    from .data import load_dataset, read_csv, validate_frame

    mode = mode or params.monitor.retrain
    reference = load_dataset(params, root)
    source = current or params.monitor.source
    batch = load_batch(source, params, reference, root, min_rows=1)
    if not batch.labelled:
        raise DataError(
            f"{source}: no target column {params.data.target!r}; retraining needs labelled data "
            "(add the labels, or run `make monitor` for a drift check only)"
        )
    path = reference.path
    original = read_csv(path, params.data.path)
    columns = [str(c) for c in original.columns]
    rows = batch.raw.reindex(columns=columns)
    combined = rows if mode == "replace" else _concat(original, rows)
    validate_frame(combined, params, f"{params.data.path} with {source}")
    if mode == "replace":
        text = rows.to_csv(index=False, lineterminator="\n")
    else:
        existing = path.read_text(encoding="utf-8")
        body = rows.to_csv(index=False, header=False, lineterminator="\n")
        text = existing + ("" if existing.endswith("\n") else "\n") + body
    before = {"sha256": reference.sha256, "rows": len(original)}
    atomic_write_text(path, text)
    return {
        "path": params.data.path,
        "mode": mode,
        "source": source,
        "added_rows": len(rows),
        "before": before,
        "after": {"sha256": sha256_file(path), "rows": len(combined)},
        "dropped_columns": [c for c in batch.raw.columns if str(c) not in columns],
        "filled_columns": [c for c in columns if c not in batch.raw.columns],
    }


def _concat(original: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    return pd.concat([original, rows], ignore_index=True)


def git_add(path: Path, root: Path) -> None:
    """Stage ``path`` even though data/ is gitignored (the retrain pull request carries it)."""
    result = subprocess.run(
        ["git", "add", "--force", "--", str(path)],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ProjectError(f"git add {path}: {result.stderr.strip()}")
