"""The report's sections, each rendered from typed records of this run and the base's."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..data.data_version import report_lines
from ..errors import TrackingError
from ..layout import STUDY_FILE
from ..pipeline import run_history, tracking
from ..pipeline.tune import study_lines
from ..records import ChecksRecord, DataInfo, Lineage
from . import charts
from .compare import MetricChange, compare_metrics, diff_params, direction
from .markdown import (
    MARKS,
    md_cell,
    md_code,
    md_delta,
    md_details,
    md_field,
    md_number,
    md_param,
    md_table,
)
from .runs import Base, Run

if TYPE_CHECKING:
    pass


#: Name of the workflow artifact that carries the report (pr-report.yml uploads it).
ARTIFACT_NAME = "pr-report"


def verdict(checks: ChecksRecord | None) -> str:
    """The one-line verdict: all gates passed, N gates failed, or gates not run."""
    if checks is None:
        return "⚠️ **Gates were not run** (no `checks.json`): run `make check` before the report."
    gates = checks.gates
    failed = [g for g in gates if not g.passed]
    if failed:
        names = ", ".join(f"`{md_cell(g.name)}`" for g in failed)
        noun = "gate" if len(gates) == 1 else "gates"
        return f"❌ **{len(failed)} of {len(gates)} {noun} failed**: {names}"
    if md_field(checks, "passed", True) is False:
        return "❌ **The gates failed** (see the full gate report)."
    if not gates:
        return "✅ **No gates failed** (no gates are configured in params.yaml)."
    return "✅ **The gate passed**" if len(gates) == 1 else f"✅ **All {len(gates)} gates passed**"


def gates_section(
    checks: ChecksRecord | None, base_checks: ChecksRecord | None = None
) -> list[str]:
    """The gates table: each gate's value against its threshold, beside the base's."""
    out = ["### Gates", ""]
    if checks is None:
        return [*out, "Gates were not run for this report.", ""]
    gates = checks.gates
    if not gates:
        return [*out, "No gates are configured (`gates:` in params.yaml).", ""]
    base_gates = {g.name: g for g in base_checks.gates} if base_checks else {}
    # Failing gates first; a table of passing gates only is collapsed.
    ordered = sorted(gates, key=lambda g: g.passed)
    rows = []
    for g in ordered:
        row = [
            md_cell(g.name),
            md_cell(g.suite),
            md_cell(g.value),
            md_cell(g.threshold),
            "✅ pass" if g.passed else "❌ **fail**",
            md_cell(g.detail),
        ]
        if base_checks is not None:
            found = base_gates.get(g.name)
            row.insert(3, md_cell(found.value) if found else "-")
        rows.append(row)
    header = ["Gate", "Suite", "Value", "Threshold", "Result", "Detail"]
    align = "llrrcl"
    if base_checks is not None:
        header.insert(3, "Base value")
        align = "llrrrcl"
    table = md_table(header, rows, align)
    if any(not g.passed for g in gates):
        return [*out, *table, ""]
    return [*out, *md_details("Every gate passed: values and thresholds", table), ""]


def _metric_rows(
    changes: list[MetricChange],
    with_base: bool,
    intervals: Mapping[str, tuple[float, float]] | None,
) -> list[list[str]]:
    rows = []
    for c in changes:
        arrow = {"higher": " ↑", "lower": " ↓"}.get(direction(c.name) or "", "")
        row = [f"{c.name}{arrow}", md_number(c.pr)]
        if intervals is not None:
            low_high = intervals.get(c.name)
            row.append(f"{md_number(low_high[0])} to {md_number(low_high[1])}" if low_high else "-")
        if with_base:
            row += [md_number(c.base), md_delta(c), MARKS.get(c.verdict, c.verdict)]
        rows.append(row)
    return rows


def _intervals(run: Run) -> dict[str, tuple[float, float]] | None:
    if run.diagnostics is None:
        return None
    return {name: (i.low, i.high) for name, i in run.diagnostics.intervals.items()}


def metrics_section(run: Run, base: Base) -> list[str]:
    """The metrics table: this run, its interval, the base and the verdict per metric."""
    base_metrics = base.run.metrics if base.run else None
    label = f"Base ({base.ref})" if base.ref else "Base"
    intervals = _intervals(run)
    diag = run.diagnostics
    out = ["### Metrics", "", "Test set (↑ higher is better, ↓ lower is better)."]
    if diag is not None:
        out[-1] += (
            f" The interval is where {diag.confidence:.0%} of the metric's values fall when the "
            f"{diag.test_rows} test rows are resampled ({diag.resamples} bootstrap resamples): "
            "a base value inside it is a change within the noise of this test set."
        )
    out.append("")
    for split in ("test", "train"):
        pr_split = run.metrics.split(split)
        if pr_split is None:
            continue
        split_intervals = intervals if split == "test" else None
        with_verdict = base_metrics is not None and split == "test"  # train: no interval either
        header = ["Metric", "This PR"]
        align = "lr"
        if split_intervals is not None:
            header.append(f"{diag.confidence:.0%} interval" if diag else "interval")
            align += "c"
        if base_metrics is not None:
            header += [label, "Change"] + ([""] if with_verdict else [])
            align += "rr" + ("l" if with_verdict else "")
        base_split = base_metrics.split(split) if base_metrics is not None else None
        changes = compare_metrics(pr_split, base_split, split_intervals)
        rows = _metric_rows(changes, base_metrics is not None, split_intervals)
        table = md_table(header, [row[: len(header)] for row in rows], align)
        out += table if split == "test" else ["", *md_details("Training-set metrics", table)]
    return [*out, ""]


def charts_section(run: Run, base: Base) -> list[str]:
    """Mermaid charts (GitHub draws them from the comment's text: no image is uploaded)."""
    test = run.metrics.test
    base_test = base.run.metrics.test if base.run else None
    names = [n for n in test if base_test is None or n in base_test]
    if run.metrics.task == "regression":
        names = [n for n in names if n in {"rmse", "mae"}]  # one unit: the target's
    pr_values = [float(test[n]) for n in names]
    base_values = [float(base_test[n]) for n in names] if base_test is not None else None
    against = f", line: base ({base.ref or 'base'})" if base_values is not None else ""
    blocks = [
        charts.comparison_chart(
            f"Test metrics (bars: this PR{against})", names, pr_values, base_values
        )
    ]
    diag = run.diagnostics
    if diag is not None:
        blocks.append(charts.roc_chart(diag.roc_fpr, diag.roc_tpr))
        blocks.append(
            charts.histogram_chart(
                "Residuals (test): actual minus predicted",
                diag.residual_edges,
                diag.residual_counts,
            )
        )
        blocks.append(charts.importance_chart(diag.importance))
    drawn = [block for block in blocks if block]
    if not drawn:
        return []
    body: list[str] = []
    for block in drawn:
        body += [block, ""]
    return ["### Charts", "", *body]


def per_class_section(run: Run) -> list[str]:
    """Per-class precision and recall and the confusion matrix (classification)."""
    diag = run.diagnostics
    if diag is None or not diag.per_class:
        return []
    rows = [
        [
            md_cell(c.label),
            md_number(c.precision),
            md_number(c.recall),
            md_number(c.f1),
            str(c.support),
        ]
        for c in diag.per_class
    ]
    out = ["### Per class (test set)", ""]
    out += md_table(["Class", "Precision", "Recall", "F1", "Rows"], rows, "lrrrr")
    if diag.confusion:
        header = ["actual / predicted", *(md_cell(label) for label in diag.confusion_labels)]
        matrix = [
            [f"**{md_cell(label)}**", *(str(v) for v in row)]
            for label, row in zip(diag.confusion_labels, diag.confusion, strict=True)
        ]
        out += [
            "",
            "Confusion matrix:",
            "",
            *md_table(header, matrix, "l" + "r" * len(diag.confusion_labels)),
        ]
    return [*out, ""]


def tracking_section(run: Run, history: History | None) -> list[str]:
    """Where the run was logged, and the base branch's history of tracked runs."""
    if not tracking.enabled():
        return []
    out = ["### Experiment tracking", ""]
    tracked = run.tracked
    if tracked is None:
        out.append("This run was not logged to the tracker (see the training log's warning).")
    elif tracked.url:
        # A plain address: GitHub links it; the comment escapes markdown links.
        out.append(f"MLflow run `{tracked.run_id[:8]}` of `{tracked.experiment}`: {tracked.url}")
    else:
        out.append(
            f"Logged as run `{tracked.run_id}` of `{tracked.experiment}` in the workflow's own "
            "MLflow store (set the `MLFLOW_TRACKING_URI` secret to keep runs on a team server)."
        )
    if history is not None:
        out += ["", *history.lines()]
    return [*out, ""]


def study_section(run: Run) -> list[str]:
    """The tuning study that chose params.yaml's hyperparameters, if one is committed."""
    study = run.study
    if study is None:
        return []
    out = ["### Hyperparameter tuning", ""]
    if not run.study_current:
        best = ", ".join(f"`{md_cell(k)}: {md_cell(v)}`" for k, v in study.best_params.items())
        return [
            *out,
            f"`{STUDY_FILE}` is stale: its study's best `{md_cell(study.model_type)}` "
            f"hyperparameters ({best}) are not this run's, so it did not produce this change "
            f"(`make tune APPLY=1` writes a current one; or delete the file).",
            "",
        ]
    return [
        *out,
        f"This run's `{md_cell(study.model_type)}` hyperparameters are the best of a tuning study "
        f"(`{STUDY_FILE}`, written by `make tune APPLY=1`):",
        "",
        *study_lines(study),
        "",
    ]


def params_section(run: Run, base: Base) -> list[str]:
    """The parameters that differ from the base's."""
    out = ["### Parameters changed from the base", ""]
    if base.run is None:
        return [*out, "No base run to compare with.", ""]
    changes = diff_params(run.lineage.params, base.run.lineage.params)
    if not changes:
        return [*out, "None: params.yaml is the same as on the base.", ""]
    rows = [[md_code(c.key), md_param(c.base), md_param(c.pr)] for c in changes]
    return [*out, *md_table(["Parameter", "Base", "This PR"], rows), ""]


def _feature_kinds(data: DataInfo) -> str:
    """How many numeric and categorical features the data has."""
    kinds = [f.kind for f in data.features]
    return f"{kinds.count('numeric')} numeric, {kinds.count('categorical')} categorical"


def data_section(run: Run, base: Base) -> list[str]:
    """The data this run was trained on, beside the base's."""
    data = run.lineage.data
    base_data = base.run.lineage.data if base.run else None
    out = ["### Data", ""]
    fingerprint = data.sha256
    if base_data is None:
        out.append(f"Fingerprint `{fingerprint[:12]}` (no base run to compare with).")
    elif fingerprint == base_data.sha256:
        out.append(f"Data unchanged: same fingerprint `{fingerprint[:12]}` as the base.")
    else:
        old = (base_data.sha256 or "none")[:12]
        out.append(f"**Data changed**: fingerprint `{old}` on the base, `{fingerprint[:12]}` here.")
    out += ["", *report_lines(data, base_data)]  # the DVC version (datastore.py)
    keys = [
        ("File", "path"),
        ("Rows", "rows"),
        ("Columns", "columns"),
        ("Train rows", "train_rows"),
        ("Test rows", "test_rows"),
        ("Target", "target"),
    ]
    header = ["", "This PR"] + (["Base"] if base_data is not None else [])
    rows = []
    for label, key in keys:
        row = [label, md_cell(md_field(data, key))]
        if base_data is not None:
            row.append(md_cell(md_field(base_data, key)))
        rows.append(row)
    rows.append(
        ["Features", _feature_kinds(data)]
        + ([_feature_kinds(base_data)] if base_data is not None else [])
    )
    return [*out, "", *md_table(header, rows, "lrr"), ""]


def plots_section(plots: Sequence[str]) -> list[str]:
    """The plots of this run, by name (they are in the workflow run's artifact)."""
    out = ["### Plots", ""]
    if not plots:
        return [*out, "This run wrote no plots.", ""]
    names = ", ".join(f"`{rel}`" for rel in plots)
    return [*out, f"In this workflow run's `{ARTIFACT_NAME}` artifact: {names}.", ""]


def lineage_section(run: Run) -> list[str]:
    """What the model was made from: commit, data, packages."""
    lineage = run.lineage
    model, data = lineage.model, lineage.data
    commit = lineage.git.commit or "unknown"
    dirty = " (uncommitted changes)" if lineage.git.dirty else ""
    started, finished = (md_field(lineage, key, None) for key in ("started_at", "finished_at"))
    model_sha = md_code(md_field(model, "sha256", None))
    rows = [
        ["Commit", f"`{md_cell(commit)}`{dirty}"],
        ["Data sha256", md_code(md_field(data, "sha256", "unknown"))],
        ["Model", f"{md_cell(md_field(model, 'type', 'unknown'))}, sha256 {model_sha}"],
        ["Seed", md_cell(md_field(lineage, "seed"))],
        ["Trained", f"{md_cell(started)} → {md_cell(finished)}"],
    ]
    body = md_table(["", ""], rows)
    if lineage.packages:
        versions = [[md_cell(k), md_cell(v)] for k, v in lineage.packages.items()]
        body += ["", *md_table(["Package", "Version"], versions)]
    summary = f"Lineage: commit {commit[:7]}, data {data.sha256[:8]}, model {model.sha256[:8]}"
    return ["### Lineage", "", *md_details(summary, body), ""]


@dataclass(frozen=True)
class History:
    """The base branch's last tracked runs (newest first), or why there are none."""

    branch: str
    metric: str
    rows: tuple[run_history.HistoryRow, ...] = ()
    note: str = ""

    def lines(self) -> list[str]:
        """The markdown of the history: a trend chart and a table, or the note."""
        if not self.rows:
            return [f"History of `{self.branch}`: {self.note or 'no tracked runs yet'}."]
        oldest_first = list(reversed(self.rows))
        values = [r.value for r in oldest_first if r.value is not None]
        labels = [r.commit or r.run_id[:7] for r in oldest_first if r.value is not None]
        chart = charts.trend_chart(f"{self.metric} on {self.branch}, oldest first", labels, values)
        rows = [
            [md_cell(r.started), md_code(r.commit or "-"), md_number(r.value), md_cell(r.gates)]
            for r in self.rows
        ]
        table = md_table(["Started (UTC)", "Commit", self.metric, "Gates"], rows, "llrl")
        body = ([chart, ""] if chart else []) + table
        return md_details(f"Last {len(self.rows)} tracked runs on `{self.branch}`", body)


def base_history(root: Path, base: Base, task: str, lineage: Lineage) -> History | None:
    """The last tracked runs of the base branch, read from the tracking store (None: off)."""
    if not tracking.enabled() or not base.ref or task not in tracking.MAIN_METRIC:
        return None
    branch = base.ref.removeprefix("origin/")
    metric = f"test_{tracking.MAIN_METRIC[task]}"
    uri = tracking.store_uri(root)
    embedded = root / tracking.STORE_DIR / tracking.STORE_DB
    if not os.environ.get(tracking.URI_ENV, "").strip() and not embedded.is_file():
        return History(branch, metric, note="the tracking store holds no runs yet")
    try:
        experiment = tracking.experiment_name(lineage.project)
        rows = run_history.history(root, branch, task, experiment, limit=10)
    except TrackingError as exc:
        return History(branch, metric, note=f"cannot read {tracking.public_uri(uri)} ({exc})")
    return History(branch, metric, tuple(rows))
