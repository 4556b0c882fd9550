"""Experiment tracking with MLflow: every training run logged with its params, metrics and model.

Where runs go: ``MLFLOW_TRACKING_URI`` when it is set (a team's tracking server, e.g.
``https://mlflow.example.com``), else the embedded store inside the project: ``mlruns/mlflow.db``
(SQLite) and ``mlruns/artifacts/`` (git-ignored). ``make ui`` browses the embedded store;
``make runs`` lists the last runs of a branch.

A run logs the flattened params.yaml as parameters, the train and test metrics, tags (git
commit, branch and dirty flag, data sha256 and version, model sha256, task, command), the run's
files (plots, metrics, lineage; the gate summary once ``make check`` ran) and the model with its
signature and an input example. The run's id and link are kept in ``artifacts/tracking.json``
for the report.

Tracking never decides whether training succeeded: the artifacts are written first, and a store
that is down or refuses writes costs one warning line (the artifacts are all in ``artifacts/``).
``mlflow`` is imported only here, only when tracking is on (projects baked with
``experiment_tracking: none`` do not install it).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from .. import git
from ..artifacts import atomic_write_json
from ..errors import ArtifactError, TrackingError
from ..layout import ArtifactLayout
from ..records import Lineage, Metrics, TrackedRun, TuneResult
from ..reporting.compare import flatten

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.tracking import MlflowClient


#: The template's ``experiment_tracking`` option: ``mlflow``, or ``none`` (nothing is logged).
BACKEND = "{{ cookiecutter.experiment_tracking }}"


#: The embedded store, relative to the project: SQLite database and artifact folder.
STORE_DIR = "mlruns"


STORE_DB = "mlflow.db"


STORE_ARTIFACTS = "artifacts"


URI_ENV = "MLFLOW_TRACKING_URI"


SWITCH_ENV = "EXPERIMENT_TRACKING"


EXPERIMENT_ENV = "MLFLOW_EXPERIMENT_NAME"


#: The metric the history (``make runs``) follows, per task.
MAIN_METRIC = {"classification": "roc_auc", "regression": "r2"}


#: A tracking server gets this long to answer (seconds), and no retries: a server that is down
#: costs seconds, not MLflow's default minutes of backoff.
HTTP_TIMEOUT = 10


#: MLflow's limit on a parameter value's length.
MAX_PARAM_LENGTH = 6000


#: Tags, each name once (the report and ``make runs`` filter on them).
TAG_COMMIT = "git.commit"


TAG_BRANCH = "git.branch"


TAG_DIRTY = "git.dirty"


TAG_DATA_SHA = "data.sha256"


TAG_DATA_VERSION = "data.version"


TAG_MODEL_SHA = "model.sha256"


TAG_TASK = "task"


TAG_COMMAND = "command"


TAG_GATES = "gates.passed"


TAG_STUDY = "optuna.study"


GATES_WORDS = {"true": "passed", "false": "failed"}


Warn = Callable[[str], None]


def enabled() -> bool:
    """True when this project tracks experiments (the template option) and this run does.

    ``EXPERIMENT_TRACKING=none`` in the environment leaves a run out of the tracker (a quick
    local try; the project's unit tests, which test tracking on its own).
    """
    return BACKEND == "mlflow" and os.environ.get(SWITCH_ENV, "").strip().lower() != "none"


def store_uri(root: Path) -> str:
    """``MLFLOW_TRACKING_URI`` when set, else the embedded SQLite store in ``root/mlruns``."""
    uri = os.environ.get(URI_ENV, "").strip()
    if uri:
        return uri
    return f"sqlite:///{(root / STORE_DIR / STORE_DB).resolve().as_posix()}"


def _embedded(uri: str, root: Path) -> bool:
    return uri == f"sqlite:///{(root / STORE_DIR / STORE_DB).resolve().as_posix()}"


def public_uri(uri: str) -> str:
    """The store's address without a user name or password (safe to print and record)."""
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def experiment_name(project: str) -> str:
    """``MLFLOW_EXPERIMENT_NAME`` when set, else the project's name."""
    return os.environ.get(EXPERIMENT_ENV, "").strip() or project or "model"


def run_url(uri: str, experiment_id: str, run_id: str) -> str | None:
    """The run's page on an http(s) tracking server; None for a database or file store."""
    if urlsplit(uri).scheme not in {"http", "https"}:
        return None
    return f"{public_uri(uri).rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def _param_value(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text[:MAX_PARAM_LENGTH]


def run_params(params: Mapping[str, Any]) -> dict[str, str]:
    """params.yaml flattened to dotted keys (``model.params.C``), values as MLflow strings."""
    return {key: _param_value(value) for key, value in flatten(params).items()}


def run_metrics(metrics: Metrics) -> dict[str, float]:
    """The train and test metrics as ``train_<name>`` / ``test_<name>``; finite numbers only."""
    splits = {"train": metrics.train, "test": metrics.test}
    return {
        f"{split}_{name}": value
        for split, values in splits.items()
        for name, value in values.items()
        if math.isfinite(value)
    }


def run_tags(lineage: Lineage, root: Path, command: str) -> dict[str, str]:
    """The tags of a training run (see the TAG_* names), from its lineage record."""
    dirty = lineage.git.dirty
    values = {
        TAG_COMMIT: lineage.git.commit,
        TAG_BRANCH: git.branch(root),
        TAG_DIRTY: None if dirty is None else str(dirty).lower(),
        TAG_DATA_SHA: lineage.data.sha256,
        TAG_DATA_VERSION: lineage.data.dvc.md5 if lineage.data.dvc else None,  # DVC's version
        TAG_MODEL_SHA: lineage.model.sha256,
        TAG_TASK: lineage.task,
        TAG_COMMAND: command,
        # MLflow's own tags: the UI shows the commit and branch in its run list.
        "mlflow.source.git.commit": lineage.git.commit,
        "mlflow.source.git.branch": git.branch(root),
    }
    return {key: str(value) for key, value in values.items() if value not in (None, "")}


@contextlib.contextmanager
def mlflow_quiet() -> Iterator[None]:
    """Silence MLflow's own logging and warnings: the caller reports in one line."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(HTTP_TIMEOUT))
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic", "urllib3", "git")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        # MLflow also prints "View run ... at" lines of its own to stdout.
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def error_reason(exc: BaseException) -> str:
    """An exception's message on one line, at most 300 characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def _experiment_id(client: MlflowClient, name: str, uri: str, root: Path) -> str:
    """The experiment's id, created on first use (embedded store: artifacts in mlruns/)."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    location = None
    if _embedded(uri, root):
        location = (root / STORE_DIR / STORE_ARTIFACTS).resolve().as_uri()
    return str(client.create_experiment(name, artifact_location=location))


def _pip_requirements(lineage: Lineage) -> list[str]:
    """What loading the model needs, from the versions the lineage recorded (no inference)."""
    packages = lineage.packages
    wanted = ("scikit-learn", "pandas", "numpy", "joblib")
    return [f"{name}=={packages[name]}" if packages.get(name) else name for name in wanted]


@dataclass(frozen=True)
class TrainingRun:
    """What a training run hands to the tracker."""

    lineage: Lineage
    metrics: Metrics
    artifacts_dir: Path
    files: tuple[Path, ...]
    model: Any
    example: pd.DataFrame
    command: str = "train"


def log_training(run: TrainingRun, root: Path, warn: Warn) -> TrackedRun | None:
    """Log a finished training run; return where it went, or None (one ``warn`` line) on failure.

    ``artifacts/tracking.json`` is removed first and written only once the run is logged: it
    never names an older run.
    """
    record_path = ArtifactLayout(run.artifacts_dir).tracking
    record_path.unlink(missing_ok=True)
    if not enabled():
        return None
    uri = store_uri(root)
    try:
        with mlflow_quiet():
            tracked = _log(run, root, uri)
    except Exception as exc:
        warn(
            f"warning: experiment tracking failed, run not logged to {public_uri(uri)} "
            f"({error_reason(exc)}); its artifacts are in {run.artifacts_dir}"
        )
        return None
    atomic_write_json(record_path, tracked.to_json())
    return tracked


def check_server(uri: str) -> None:
    """Fail fast when an http(s) tracking server does not answer its health check."""
    if urlsplit(uri).scheme not in {"http", "https"}:
        return
    import requests

    try:
        response = requests.get(f"{uri.rstrip('/')}/health", timeout=HTTP_TIMEOUT)
    except requests.RequestException as exc:
        raise TrackingError(f"no answer from the server: {type(exc).__name__}") from None
    if response.status_code >= 400:
        raise TrackingError(f"the server's health check answered {response.status_code}")


def _log(run: TrainingRun, root: Path, uri: str) -> TrackedRun:
    check_server(uri)
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient

    if _embedded(uri, root):
        (root / STORE_DIR / STORE_ARTIFACTS).mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    name = experiment_name(run.lineage.project)
    experiment_id = _experiment_id(client, name, uri, root)
    tags = run_tags(run.lineage, root, run.command)
    with mlflow.start_run(experiment_id=experiment_id, tags=tags) as active:
        run_id = active.info.run_id
        mlflow.log_params(run_params(run.lineage.params))
        mlflow.log_metrics(run_metrics(run.metrics))
        for path in run.files:
            if path.is_dir():
                mlflow.log_artifacts(str(path), artifact_path=path.name)
            elif path.is_file():
                mlflow.log_artifact(str(path))
        signature = infer_signature(run.example, run.model.predict(run.example))
        mlflow.sklearn.log_model(
            run.model,
            name="model",
            signature=signature,
            input_example=run.example,
            pip_requirements=_pip_requirements(run.lineage),
            serialization_format="cloudpickle",
        )
    return TrackedRun(
        run_id=run_id,
        experiment_id=experiment_id,
        experiment=name,
        store=public_uri(uri),
        url=run_url(uri, experiment_id, run_id),
        model_sha256=run.lineage.model.sha256,
    )


def log_study(result: TuneResult, project: str, root: Path, warn: Warn) -> str | None:
    """Log a tuning run: one parent run for the study, a nested run per trial this worker ran.

    The parent holds the study's name, storage, metric, best value and best hyperparameters; each
    nested run its trial's hyperparameters and cross-validated score (a pruned trial: its last
    running mean, tagged ``state=pruned``). Each worker of a shared study logs its own trials
    under a parent of its own, all tagged with the study. Returns the parent run's id, or None
    when tracking is off or failed (one ``warn`` line: the study itself is in its storage).
    """
    if not enabled():
        return None
    uri = store_uri(root)
    try:
        with mlflow_quiet():
            return _log_study(result, project, root, uri)
    except Exception as exc:
        warn(
            f"warning: experiment tracking failed, study not logged to {public_uri(uri)} "
            f"({error_reason(exc)}); it is in {result.storage}"
        )
        return None


def _log_study(result: TuneResult, project: str, root: Path, uri: str) -> str:
    check_server(uri)
    import mlflow
    from mlflow.tracking import MlflowClient

    if _embedded(uri, root):
        (root / STORE_DIR / STORE_ARTIFACTS).mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    experiment_id = _experiment_id(client, experiment_name(project), uri, root)
    tags = {TAG_STUDY: result.study, TAG_COMMAND: "tune", TAG_BRANCH: git.branch(root) or ""}
    tags = {key: value for key, value in tags.items() if value}
    metric = f"cv_{result.metric}"
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"tune {result.model_type}", tags=tags
    ) as parent:
        mlflow.log_params(
            {
                "study": result.study,
                "storage": result.storage,
                "model.type": result.model_type,
                "metric": result.metric,
                **{f"best.{key}": _param_value(value) for key, value in result.best_params.items()},
            }
        )
        mlflow.log_metrics(
            {
                f"best_{metric}": result.best_value,
                "trials": result.trials,
                "trials_complete": result.complete,
                "trials_pruned": result.pruned,
            }
        )
        for trial in result.worker_log:
            with mlflow.start_run(
                experiment_id=experiment_id,
                run_name=f"trial {trial.number}",
                nested=True,
                tags={**tags, "trial": str(trial.number), "state": trial.state},
            ):
                mlflow.log_params({key: _param_value(v) for key, v in trial.params.items()})
                if trial.value is not None and math.isfinite(trial.value):
                    mlflow.log_metric(metric, trial.value)
        return str(parent.info.run_id)


def read_tracked(artifacts_dir: Path, model_sha256: str | None) -> TrackedRun | None:
    """The tracked run of the model in ``artifacts_dir``; None if untracked or another model's."""
    path = ArtifactLayout(artifacts_dir).tracking
    if not path.is_file():
        return None
    try:
        tracked = TrackedRun.read(path)
    except ArtifactError:  # unreadable, or not a record this code reads: none
        return None
    return tracked if model_sha256 and tracked.model_sha256 == model_sha256 else None


def log_checks(
    artifacts_dir: Path,
    model_sha256: str | None,
    files: tuple[Path, ...],
    passed: bool,
    root: Path,
    warn: Warn,
) -> bool:
    """Add the gate summary to the tracked run of this model; False (one warning) on failure."""
    tracked = read_tracked(artifacts_dir, model_sha256) if enabled() else None
    if tracked is None:
        return False
    uri = store_uri(root)
    try:
        with mlflow_quiet():
            check_server(uri)
            from mlflow.tracking import MlflowClient

            client = MlflowClient(uri)
            for path in files:
                if path.is_file():
                    client.log_artifact(tracked.run_id, str(path))
            client.set_tag(tracked.run_id, TAG_GATES, str(passed).lower())
    except Exception as exc:
        warn(
            f"warning: experiment tracking failed, gate results not logged to "
            f"{public_uri(uri)} ({error_reason(exc)}); they are in {artifacts_dir}"
        )
        return False
    return True
