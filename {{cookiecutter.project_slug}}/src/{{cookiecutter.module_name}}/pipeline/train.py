"""The training stage: fit one Pipeline (preprocess -> estimator) and write every artifact.

A run stages all of its artifacts in a temporary directory under ``artifacts/`` and moves them
into place only once everything succeeded, so a failed run leaves the previous ones untouched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..artifacts import StagingDir, atomic_dump_joblib, atomic_write_json, display_path, sha256_file
from ..config import Params, cap_parallelism, estimator_class
from ..data import load_dataset, split
from ..layout import LINEAGE_FILE, METRICS_FILE, MODEL_FILE, ArtifactLayout
from ..progress import Progress, quiet
from ..records import Lineage, Metrics
from .features import build_preprocessor

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from ..data import Dataset

#: Test rows kept as the model's input example (the tracked model's signature and example).
EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced."""

    artifacts_dir: Path
    metrics: Metrics
    lineage: Lineage
    seconds: float
    #: The fitted pipeline and a few test rows: what experiment tracking logs as the model and
    #: its input example (see :mod:`.tracking`).
    model: Any = None
    example: Any = None


def build_estimator(params: Params, progress: Progress = quiet) -> Any:  # noqa: ANN401 - any scikit-learn estimator
    """Instantiate the configured estimator with its hyperparameters and the seed.

    Worker counts above this machine's CPUs are capped (:func:`~..config.cap_parallelism`),
    with one progress line each.
    """
    estimator = estimator_class(params.task, params.model.type)()
    hyper, notes = cap_parallelism(params.model.params)
    for note in notes:
        progress(note)
    if "random_state" in estimator.get_params() and "random_state" not in hyper:
        hyper["random_state"] = params.seed
    return estimator.set_params(**hyper)


def build_pipeline(params: Params, dataset: Dataset, progress: Progress = quiet) -> Pipeline:
    """Return the unfitted Pipeline: ColumnTransformer preprocessing, then the estimator."""
    from sklearn.pipeline import Pipeline

    return Pipeline(
        [
            ("preprocess", build_preprocessor(dataset.numeric, dataset.categorical)),
            ("model", build_estimator(params, progress)),
        ]
    )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def run_training(
    params: Params,
    root: Path = Path(),
    artifacts_dir: Path | None = None,
    progress: Progress = quiet,
) -> TrainResult:
    """Load and split the data, fit, evaluate, and write model, metrics, plots and lineage.

    Args:
        params: validated parameters.
        root: project directory; ``params.data.path`` is relative to it.
        artifacts_dir: where artifacts go (default: the project's; see
            :class:`..layout.ArtifactLayout`).
        progress: called with one line per step.

    Raises:
        DataError: if the data is invalid; no artifact is written or changed then.
    """
    from ..reporting.diagnostics import RESAMPLES, compute_diagnostics
    from .evaluate import compute_metrics, permutation_importance_table, write_plots
    from .lineage import build_lineage

    started, clock = _now(), time.perf_counter()
    layout = ArtifactLayout.of(root, artifacts_dir)
    artifacts = layout.dir
    progress(f"loading {params.data.path}")
    dataset = load_dataset(params, root)
    progress(
        f"validated {len(dataset.frame)} rows: {len(dataset.numeric)} numeric and "
        f"{len(dataset.categorical)} categorical features, target {dataset.target!r}"
    )
    for line in dataset.schema_lines():
        progress(f"schema: {line}")
    classification = params.task == "classification"
    x_train, x_test, y_train, y_test = split(
        dataset, params.data.test_size, params.seed, stratify=classification
    )
    progress(f"split {len(x_train)} train / {len(x_test)} test rows (seed {params.seed})")
    pipeline = build_pipeline(params, dataset, progress)
    progress(f"fitting {params.model.type}")
    pipeline.fit(x_train, y_train)
    progress("evaluating on train and test")
    metrics = Metrics(
        task=params.task,
        train=compute_metrics(params.task, pipeline, x_train, y_train),
        test=compute_metrics(params.task, pipeline, x_test, y_test),
    )
    importance = permutation_importance_table(pipeline, x_test, y_test, params.seed)
    progress(f"bootstrapping the test metrics ({RESAMPLES} resamples)")
    diagnostics = compute_diagnostics(
        params.task, pipeline, x_test, y_test, params.seed, importance
    )
    with StagingDir(artifacts) as stage:
        staged = ArtifactLayout(stage.path)
        progress("writing plots")
        write_plots(params.task, pipeline, x_test, y_test, staged.plots, params.seed, importance)
        atomic_write_json(staged.diagnostics, diagnostics.to_dict())
        model_path = atomic_dump_joblib(staged.model, pipeline)
        atomic_write_json(staged.metrics, metrics.to_json())
        lineage = build_lineage(
            params=params,
            dataset=dataset,
            split_rows=(len(x_train), len(x_test)),
            metrics=metrics,
            model_sha256=sha256_file(model_path),
            model_path=display_path(layout.model, root),
            started_at=started,
            finished_at=_now(),
            root=root,
        )
        atomic_write_json(staged.lineage, lineage.to_json())
        stage.commit(order=[METRICS_FILE, LINEAGE_FILE])
    progress(
        f"wrote {display_path(artifacts, root)}/: {MODEL_FILE}, {METRICS_FILE}, {LINEAGE_FILE}"
    )
    seconds = time.perf_counter() - clock
    return TrainResult(artifacts, metrics, lineage, seconds, pipeline, x_test.head(EXAMPLE_ROWS))
