"""Where every artifact lives: each file name defined once, the paths built from ``--artifacts``.

Every command takes the artifacts folder from ``--artifacts`` (default ``artifacts/`` next to
``params.yaml``) and reaches each file through an :class:`ArtifactLayout` of that folder, so
that no stage spells out a file name or the default folder on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The artifacts folder of a project when ``--artifacts`` is not given (relative to the project).
DEFAULT_DIR = "artifacts"

# A training run (make train), written together; metrics and lineage last (readers wait on them).
MODEL_FILE = "model.joblib"
METRICS_FILE = "metrics.json"
LINEAGE_FILE = "lineage.json"
DIAGNOSTICS_FILE = "diagnostics.json"
PLOTS_DIR = "plots"
# The gates (make check).
CHECKS_JSON = "checks.json"
CHECKS_HTML = "checks.html"
# Drift monitoring (make monitor).
MONITOR_JSON = "monitor.json"
MONITOR_MD = "monitor.md"
MONITOR_HTML = "monitor.html"
# Hyperparameter search (make tune); the study's summary lives next to params.yaml (committed).
TUNE_JSON = "tune.json"
TUNE_MD = "tune.md"
TUNE_DB = "tune.db"
STUDY_FILE = "tune-study.json"
# Experiment tracking: where the run was logged.
TRACKING_FILE = "tracking.json"
# The PR report folder (make report): its markdown, plots and the base branch's run.
REPORT_DIR = "report"
REPORT_FILE = "report.md"
BASE_DIR = "base"
# Release: the image of the model, its build metadata and the model card.
IMAGE_FILE = "image.json"
IMAGE_BUILD_FILE = "image-build.json"
MODEL_CARD_FILE = "model-card.md"


@dataclass(frozen=True)
class ArtifactLayout:
    """The files of one artifacts folder (``dir``), by what they hold."""

    dir: Path

    @classmethod
    def of(cls, project: Path, artifacts: Path | None = None) -> ArtifactLayout:
        """The layout of ``artifacts``, or of the project's default folder when it is None."""
        return cls(artifacts if artifacts is not None else project / DEFAULT_DIR)

    @property
    def model(self) -> Path:
        """The fitted pipeline (joblib)."""
        return self.dir / MODEL_FILE

    @property
    def metrics(self) -> Path:
        """Train and test metrics of the run."""
        return self.dir / METRICS_FILE

    @property
    def lineage(self) -> Path:
        """What the model was made from: data, params, code, packages."""
        return self.dir / LINEAGE_FILE

    @property
    def diagnostics(self) -> Path:
        """Bootstrap intervals, per-class metrics and chart data."""
        return self.dir / DIAGNOSTICS_FILE

    @property
    def plots(self) -> Path:
        """The evaluation plots (PNG)."""
        return self.dir / PLOTS_DIR

    @property
    def checks(self) -> Path:
        """The gate record of the model (make check)."""
        return self.dir / CHECKS_JSON

    @property
    def checks_html(self) -> Path:
        """Deepchecks' report of the suites."""
        return self.dir / CHECKS_HTML

    @property
    def monitor(self) -> Path:
        """The monitor's summary of the last batch."""
        return self.dir / MONITOR_JSON

    @property
    def monitor_md(self) -> Path:
        """The monitor's summary as markdown."""
        return self.dir / MONITOR_MD

    @property
    def monitor_html(self) -> Path:
        """Deepchecks' drift report of the last batch."""
        return self.dir / MONITOR_HTML

    @property
    def tune(self) -> Path:
        """The last search's result."""
        return self.dir / TUNE_JSON

    @property
    def tune_md(self) -> Path:
        """The last search's result as markdown."""
        return self.dir / TUNE_MD

    @property
    def tune_db(self) -> Path:
        """The local Optuna storage (when no shared storage is configured)."""
        return self.dir / TUNE_DB

    @property
    def tracking(self) -> Path:
        """Where the training run was logged (experiment tracking)."""
        return self.dir / TRACKING_FILE

    @property
    def report(self) -> Path:
        """The PR report folder (default of ``report --out``)."""
        return self.dir / REPORT_DIR

    @property
    def base(self) -> Path:
        """The base branch's run, retrained or restored for the report."""
        return self.dir / BASE_DIR

    @property
    def image(self) -> Path:
        """The image built from this commit: ``{"ref", "image", "tags"}``."""
        return self.dir / IMAGE_FILE

    @property
    def image_build(self) -> Path:
        """The build metadata of that image."""
        return self.dir / IMAGE_BUILD_FILE

    @property
    def model_card(self) -> Path:
        """The model card of a version."""
        return self.dir / MODEL_CARD_FILE

    def bento_archive(self, package: str) -> Path:
        """The exported bento of ``package``."""
        return self.dir / f"{package}.bento"
