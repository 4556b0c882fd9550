"""A run's records read for the report (typed): this PR's run and the base branch's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ArtifactError
from ..layout import ArtifactLayout
from ..pipeline import tracking
from ..records import ChecksRecord, Lineage, Metrics, StudySummary, TrackedRun
from .diagnostics import Diagnostics, load_diagnostics

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class Run:
    """The artifacts of one training run (and its gates, when they ran)."""

    metrics: Metrics
    lineage: Lineage
    checks: ChecksRecord | None = None
    plots: tuple[Path, ...] = ()
    checks_html: Path | None = None
    diagnostics: Diagnostics | None = None
    tracked: TrackedRun | None = None
    #: The study committed next to params.yaml (``tune-study.json``), and whether this run's
    #: model has its best hyperparameters (False: the summary is stale).
    study: StudySummary | None = None
    study_current: bool = False


def load_run(artifacts: Path, *, gates_optional: bool = False) -> Run:
    """Read a run from an artifacts directory.

    ``gates_optional``: an unreadable ``checks.json`` counts as none (a base run's gate values
    are only shown beside the PR's).

    Raises:
        ArtifactError: ``metrics.json`` or ``lineage.json`` is missing or unreadable, or
            ``checks.json`` exists but is unreadable. A missing ``checks.json`` means the gates
            were not run, which the report says.
    """
    hint = "run `make train` first"
    layout = ArtifactLayout(artifacts)
    metrics = Metrics.read(layout.metrics, hint)
    lineage = Lineage.read(layout.lineage, hint)
    if metrics.split("test") is None:
        raise ArtifactError(f"{layout.metrics} has no 'test' metrics")
    checks = None
    if layout.checks.exists():
        try:
            checks = ChecksRecord.read(layout.checks)
        except ArtifactError:
            if not gates_optional:
                raise
    plots = tuple(sorted(layout.plots.glob("*.png")))
    html = layout.checks_html
    model_sha = lineage.model.sha256 or None
    return Run(
        metrics,
        lineage,
        checks,
        plots,
        html if html.is_file() else None,
        load_diagnostics(artifacts),
        tracking.read_tracked(artifacts, model_sha),
    )


@dataclass(frozen=True)
class Base:
    """The base branch's run, or why there is none (``run`` None and ``note`` says why)."""

    run: Run | None = None
    ref: str | None = None
    commit: str | None = None
    note: str = ""


def load_base(artifacts: Path, ref: str | None = None) -> Base:
    """Read a base run's ``metrics.json`` and ``lineage.json`` from a directory.

    Never raises for the base's records: ones this code cannot read (an old or broken run's)
    give a :class:`Base` whose ``note`` says so, and an unreadable gate record no base values.
    """
    if not ArtifactLayout(artifacts).metrics.is_file():
        return Base(ref=ref, note=f"no base metrics in {artifacts}")
    try:
        run = load_run(artifacts, gates_optional=True)
    except ArtifactError as exc:
        return Base(ref=ref, note=f"the base run is unreadable ({exc})")
    # The base's gate values are shown beside the PR's; its plots are not compared.
    base = Run(run.metrics, run.lineage, run.checks, diagnostics=run.diagnostics)
    return Base(run=base, ref=ref, commit=run.lineage.git.commit)
