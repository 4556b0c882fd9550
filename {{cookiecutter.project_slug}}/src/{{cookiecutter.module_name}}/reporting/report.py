"""The pull-request report: ``report.md`` and its images, compared with the base branch.

Reads a run's artifacts (``metrics.json``, ``lineage.json``, ``plots/``, and ``checks.json`` /
``checks.html`` once the gates ran) and writes a self-contained directory, by default
``artifacts/report/``: ``report.md`` (text only: it names the plots), copies of the plots and the
full gate report. Whether plots are published is not the report's decision: the comment
workflow decides from its own trusted configuration (:mod:`.pr_comment`).

The base branch's run comes from :mod:`.base_run` (retrained in a worktree, or a saved run),
both runs are read as typed records by :mod:`.runs`, and each section of the report is rendered
by :mod:`.sections` with the cells and tables of :mod:`.markdown`.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..artifacts import replace_directory, sweep_stale
from ..layout import CHECKS_HTML, PLOTS_DIR, REPORT_FILE, ArtifactLayout
from ..pipeline.tune import produced, read_study
from ..progress import Progress, quiet
from .base_run import build_base
from .runs import Base, Run, load_base, load_run
from .sections import (
    ARTIFACT_NAME,
    History,
    base_history,
    charts_section,
    data_section,
    gates_section,
    lineage_section,
    metrics_section,
    params_section,
    per_class_section,
    plots_section,
    study_section,
    tracking_section,
    verdict,
)

if TYPE_CHECKING:
    from ..config import Params


def render(
    run: Run,
    base: Base,
    *,
    plots: Sequence[str] = (),
    history: History | None = None,
) -> str:
    """Render the report's markdown.

    Args:
        run: this PR's run.
        base: the base run, or a note saying why there is none.
        plots: plot paths relative to the report file (as copied next to it), listed by name.
        history: the base branch's last tracked runs, when tracking is on.
    """
    project = run.lineage.project or run.lineage.model_name or "model"
    if base.run is not None:
        against = f"Compared with `{base.ref or 'base'}`" + (
            f" at {str(base.commit)[:7]} (merge base)." if base.commit else "."
        )
    else:
        against = f"No base-branch comparison: {base.note or 'no base given'}."
    task = run.metrics.task or run.lineage.task
    lines = [
        f"## Model report: {project}",
        "",
        verdict(run.checks),
        "",
        f"{task.capitalize()} model. {against}".strip(),
        "",
        *gates_section(run.checks, base.run.checks if base.run else None),
        *metrics_section(run, base),
        *charts_section(run, base),
        *per_class_section(run),
        *params_section(run, base),
        *study_section(run),
        *data_section(run, base),
        *plots_section(plots),
        *tracking_section(run, history),
        *lineage_section(run),
        "### Full gate report",
        "",
    ]
    if run.checks_html is not None:
        connected = run.checks.html_connected if run.checks else None
        modes: dict[object, str] = {
            True: "connected mode: it loads its scripts from a CDN, so viewing needs internet "
            "(`checks.html_connected: false` in params.yaml makes it self-contained)",
            False: "self-contained mode: it opens offline",
        }
        mode = modes.get(connected, "mode not recorded")
        lines.append(
            f"The full deepchecks report (`{CHECKS_HTML}`, {mode}) is in this workflow run's "
            f"`{ARTIFACT_NAME}` artifact: download it and open it in a browser."
        )
    else:
        lines.append("No deepchecks report: the gates were not run.")
    return "\n".join(lines).rstrip() + "\n"


def write_report(run: Run, base: Base, out_dir: Path, history: History | None = None) -> Path:
    """Write ``report.md``, the plots and the gate report into ``out_dir``.

    The directory is built next to ``out_dir`` and swapped in at the end: a failure leaves the
    previous report untouched. Returns the path of ``report.md``.
    """
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(out_dir.parent)
    prefix = f".{out_dir.name}-{os.getpid()}-"
    stage = Path(tempfile.mkdtemp(prefix=prefix, dir=out_dir.parent))
    mask = os.umask(0o022)
    os.umask(mask)
    stage.chmod(0o777 & ~mask)  # mkdtemp creates 0700; give the usual directory permissions
    try:
        plots = []
        if run.plots:
            (stage / PLOTS_DIR).mkdir()
        for plot in run.plots:
            shutil.copy2(plot, stage / PLOTS_DIR / plot.name)
            plots.append(f"{PLOTS_DIR}/{plot.name}")
        if run.checks_html is not None:
            shutil.copy2(run.checks_html, stage / CHECKS_HTML)
        text = render(run, base, plots=plots, history=history)
        (stage / REPORT_FILE).write_text(text, "utf-8")
        replace_directory(stage, out_dir)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out_dir / REPORT_FILE


def run_report(
    root: Path,
    artifacts: Path,
    *,
    out: Path | None = None,
    base_ref: str | None = None,
    base_artifacts: Path | None = None,
    base_run: Path | None = None,
    uv: str | None = None,
    progress: Progress = quiet,
    params: Params | None = None,
) -> Path:
    """Build the report of the run in ``artifacts``; return the path of ``report.md``.

    With ``params`` the run must be current (:func:`~..pipeline.lineage.ensure_current`): trained
    with these params and the data file they name.
    """
    layout = ArtifactLayout(artifacts)
    run = load_run(artifacts)
    study = read_study(root)
    if study is not None:
        model = run.lineage.params.get("model") or {}
        current = produced(study, str(model.get("type")), model.get("params") or {})
        run = dataclasses.replace(run, study=study, study_current=current)
    if params is not None:
        from ..pipeline.lineage import ensure_current

        ensure_current(params, root, artifacts)
    if base_ref:
        base = build_base(base_ref, root, layout.base, uv=uv, saved=base_run, progress=progress)
    elif base_artifacts is not None:
        base = load_base(base_artifacts, ref=str(base_artifacts))
    else:
        base = Base(note="no base given (`make report BASE=origin/main` compares with main)")
    if base.run is None:
        progress(f"no base comparison: {base.note}")
    task = run.metrics.task
    history = base_history(root, base, task, run.lineage)
    return write_report(run, base, out or layout.report, history)
