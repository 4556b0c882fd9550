"""The records stages hand to each other on disk, typed.

``metrics.json`` (:class:`Metrics`), ``lineage.json`` (:class:`Lineage`), ``tracking.json``
(:class:`TrackedRun`), ``image.json`` (:class:`ImageRecord`), ``tune.json`` (:class:`TuneResult`),
``tune-study.json`` (:class:`StudySummary`), ``checks.json`` (:class:`ChecksRecord`) and
``monitor.json`` (:class:`MonitorSummary`).

Each record carries a ``schema_version``. A record without one is of version 1 (written before
the field existed); one of a newer version than this code knows is refused with one line,
rather than read with fields guessed. Writers build the model and dump it; readers use its
attributes. Fields a record of an older run lacks have defaults, so that the PR report can
still read the base branch's run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ArtifactError

#: The version of every record this code writes.
SCHEMA_VERSION = 1

R = TypeVar("R", bound="Record")


class Record(BaseModel):
    """Base of the on-disk records: a ``schema_version``; unknown fields are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    schema_version: int = SCHEMA_VERSION

    @classmethod
    def parse(cls: type[R], document: Any, source: str | Path) -> R:  # noqa: ANN401 - parsed JSON
        """Validate a parsed JSON document; ArtifactError naming ``source`` if it does not fit."""
        if not isinstance(document, dict):
            raise ArtifactError(f"{source} must hold a JSON object")
        version = document.get("schema_version", 1)
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise ArtifactError(
                f"{source}: schema_version {version!r} is newer than this project reads "
                f"({SCHEMA_VERSION}): update the project, or rerun the stage that wrote it"
            )
        try:
            return cls.model_validate(document)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the record"
            raise ArtifactError(f"{source}: {where}: {first['msg']}") from None

    @classmethod
    def read(cls: type[R], path: Path, hint: str = "") -> R:
        """Read and validate the record at ``path`` (ArtifactError if missing or malformed)."""
        from .artifacts import read_json

        return cls.parse(read_json(path, hint), path)

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to disk: the fields it was given, and its schema version."""
        return self.model_dump(mode="json", exclude_unset=True) | {
            "schema_version": self.schema_version
        }


class GitState(BaseModel):
    """The commit a run was trained on; nulls outside a git repository."""

    model_config = ConfigDict(frozen=True)

    commit: str | None = None
    dirty: bool | None = None


class DataVersion(BaseModel):
    """The DVC version the data's pointer names (see :mod:`.data.datastore`)."""

    model_config = ConfigDict(frozen=True)

    pointer: str = ""
    md5: str
    committed: bool = True


class FeatureInfo(BaseModel):
    """One feature column of the training data (the service's request schema comes from it)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str
    kind: str
    dtype: str
    missing: float | None = None
    min: float | None = None
    max: float | None = None
    n_categories: int | None = None
    categories: list[Any] | None = None


class DataInfo(BaseModel):
    """The data a run was trained on."""

    model_config = ConfigDict(extra="allow", frozen=True)

    path: str
    sha256: str = ""
    rows: int = 0
    columns: int = 0
    train_rows: int = 0
    test_rows: int = 0
    target: str = ""
    features: list[FeatureInfo] = Field(default_factory=list)
    excluded: dict[str, str] = Field(default_factory=dict)
    classes: list[Any] | None = None
    dvc: DataVersion | None = None


class ModelInfo(BaseModel):
    """The fitted model file of a run."""

    model_config = ConfigDict(frozen=True)

    path: str = ""
    type: str = ""
    sha256: str = ""


class Metrics(Record):
    """``metrics.json`` (and lineage's ``metrics``): each split's metrics by name.

    The names depend on the task (:data:`.pipeline.evaluate.CLASSIFICATION_METRICS`,
    ``REGRESSION_METRICS``).
    """

    task: str = ""
    train: dict[str, float] = Field(default_factory=dict)
    test: dict[str, float] = Field(default_factory=dict)

    def split(self, name: Literal["train", "test"]) -> dict[str, float] | None:
        """One split's metrics; None when the record has none (an older run's)."""
        if name not in self.model_fields_set:
            return None
        return self.train if name == "train" else self.test


class Lineage(Record):
    """``lineage.json``: what a model was made from (data, params, code, packages)."""

    project: str = ""
    model_name: str = ""
    started_at: str = ""
    finished_at: str = ""
    git: GitState = Field(default_factory=GitState)
    task: str = ""
    seed: int = 0
    params: dict[str, Any] = Field(default_factory=dict)
    params_sha256: str = ""
    data: DataInfo
    metrics: Metrics = Field(default_factory=Metrics)
    packages: dict[str, str | None] = Field(default_factory=dict)
    model: ModelInfo = Field(default_factory=ModelInfo)


class TrackedRun(Record):
    """``tracking.json``: where a training run was logged in the experiment tracker."""

    run_id: str
    experiment_id: str
    experiment: str
    #: The store, without credentials.
    store: str
    #: The run's page on a tracking server (None for the embedded store: see ``make ui``).
    url: str | None = None
    #: The model this run logged: a tracking.json of an older run is never taken for this one.
    model_sha256: str


class ImageRecord(Record):
    """``image.json``: the container image pushed for the current bento (``make publish``)."""

    #: The image by digest (``registry/name@sha256:...``): what a release registers.
    ref: str
    image: str = ""
    tags: list[str] = Field(default_factory=list)


class TrialRecord(BaseModel):
    """One trial a tuning worker ran (what the experiment tracker logs as a nested run)."""

    model_config = ConfigDict(frozen=True)

    number: int
    state: str  # "complete" or "pruned"
    value: float | None  # the cross-validated score; for a pruned trial, its last running mean
    params: dict[str, Any]


class TuneResult(Record):
    """``tune.json``: what a tuning run found (one worker's view of the shared study)."""

    study: str
    storage: str
    model_type: str
    metric: str
    best_value: float
    best_params: dict[str, Any]
    trials: int
    complete: int
    pruned: int
    worker_trials: int
    seconds: float
    importances: dict[str, float] = Field(default_factory=dict)
    applied: bool = False
    worker_log: list[TrialRecord] = Field(default_factory=list)


#: A hyperparameter value as params.yaml and Optuna hold it.
Value = bool | int | float | str | None


class StudySummary(Record):
    """``tune-study.json``: what a study found, committed next to params.yaml.

    No storage URL and no trial log; strict, since it is a committed file anyone can edit.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    study: str
    model_type: str
    metric: str
    trials: int = Field(ge=1)
    complete: int = Field(ge=1)
    pruned: int = Field(ge=0)
    best_value: float
    best_params: dict[str, Value] = Field(min_length=1)
    #: The parameters that mattered: Optuna's importance of each (empty with too few trials).
    importances: dict[str, float] = Field(default_factory=dict)

    @classmethod
    def of(cls, result: TuneResult) -> StudySummary:
        """The summary of a tuning run's result."""
        return cls(
            study=result.study,
            model_type=result.model_type,
            metric=result.metric,
            trials=result.trials,
            complete=result.complete,
            pruned=result.pruned,
            best_value=result.best_value,
            best_params=result.best_params,
            importances=result.importances,
        )


class GateResult(BaseModel):
    """One gate's verdict as recorded (see :class:`.quality.gates.Gate`)."""

    model_config = ConfigDict(frozen=True)

    name: str
    suite: str
    value: float | None
    threshold: float
    passed: bool
    detail: str = ""


class Skipped(BaseModel):
    """A gate that did not apply, and why."""

    model_config = ConfigDict(frozen=True)

    name: str
    reason: str


class ChecksRecord(Record):
    """``checks.json``: the gate record of one model (make check)."""

    passed: bool = False
    failed: list[str] = Field(default_factory=list)
    gates: list[GateResult]
    skipped: list[Skipped] = Field(default_factory=list)
    rows: dict[str, int] = Field(default_factory=dict)
    seconds: float = 0.0
    task: str = ""
    model_sha256: str | None = None
    data_sha256: str | None = None
    params_sha256: str | None = None
    thresholds: dict[str, float | None] = Field(default_factory=dict)
    sample_size: int | None = None
    html: str | None = None
    html_sha256: str | None = None
    html_connected: bool | None = None


Verdict = Literal["stable", "drift", "bad-batch"]


class BatchFile(BaseModel):
    """One file of a monitored batch."""

    model_config = ConfigDict(frozen=True)

    path: str
    sha256: str
    rows: int


class BatchInfo(BaseModel):
    """The monitored batch: where it came from, its files and rows."""

    model_config = ConfigDict(frozen=True)

    source: str
    files: list[BatchFile]
    rows: int
    labelled: bool
    sampled_rows: int


class ReferenceInfo(BaseModel):
    """The training data a batch is compared with."""

    model_config = ConfigDict(frozen=True)

    path: str
    sha256: str
    rows: int
    sampled_rows: int


@dataclass(frozen=True)
class FeatureDriftScore:
    """One feature's drift score and the method that measured it."""

    drift_score: float
    method: str


class MonitorSummary(Record):
    """``monitor.json``: the verdict on a batch of new data (make monitor)."""

    verdict: Verdict
    passed: bool
    exit_code: int
    retrain: bool
    created_at: str
    batch: BatchInfo
    reference: ReferenceInfo
    model: ModelInfo
    thresholds: dict[str, float | None]
    gates: list[GateResult]
    drifted_features: list[str] = Field(default_factory=list)
    # Per-feature drift scores, by feature name.
    features: dict[str, FeatureDriftScore] = Field(default_factory=dict)
    skipped: list[Skipped] = Field(default_factory=list)
    seconds: float = 0.0
