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

This module runs ``monitor`` and renders its summary; the batch is read by :mod:`.batch`, its
drift measured by :mod:`.drift`, example batches made by :mod:`.example_batches`, and a batch
folded into the training data by :mod:`.data_update`.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from ..artifacts import StagingDir, atomic_write_json, atomic_write_text, display_path, sha256_file
from ..layout import MONITOR_JSON, ArtifactLayout
from ..quality.gate_readers import drifted_features
from ..quality.gates import DRIFT_GATES, Gate, verdict_table
from ..records import (
    BatchInfo,
    FeatureDriftScore,
    GateResult,
    ModelInfo,
    MonitorSummary,
    ReferenceInfo,
    Skipped,
)
from .batch import load_batch, resolve_source
from .drift import run_checks, verdict_of

if TYPE_CHECKING:
    from ..config import Params


#: Exit status when a monitoring threshold is exceeded (2 stays "unusable input").
EXIT_DRIFT = 3


def now() -> str:
    """The time now, UTC, to the second (ISO 8601 with ``Z``)."""
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
    from ..config import data_folders
    from ..data import load_dataset
    from ..pipeline.lineage import ensure_current
    from ..quality.check_html import gates_html, save_html
    from ..quality.checks import load_model
    from ..quality.suites import quiet_stack

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
        created_at=now(),
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


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def summary_table(summary: MonitorSummary) -> str:
    """The gates as a text table (:func:`~..quality.gates.verdict_table`), then the verdict."""
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
