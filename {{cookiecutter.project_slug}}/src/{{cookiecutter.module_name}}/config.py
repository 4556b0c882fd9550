"""Typed loading and validation of ``params.yaml``.

Every problem is reported as one :class:`~.errors.ConfigError` whose message names the file,
the key path and the rule, e.g. ``params.yaml: data.test_size: must be > 0 and < 1 (got 1.5)``.
Paths in the file must resolve inside the project (or inside ``data.external_dir``), and
hyperparameters that start workers are held to the CPUs of the machine.
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from .artifacts import ensure_inside, glob_base
from .errors import ConfigError
from .quality.gates import GATES

Task = Literal["classification", "regression"]

#: Model types per task: params.yaml name -> "module:Class" of the scikit-learn estimator.
#: Add a model by adding one line here (and, if it needs one, a default in DEFAULT_HYPERPARAMS).
MODELS: dict[str, dict[str, str]] = {
    "classification": {
        "logistic_regression": "sklearn.linear_model:LogisticRegression",
        "random_forest": "sklearn.ensemble:RandomForestClassifier",
        "gradient_boosting": "sklearn.ensemble:HistGradientBoostingClassifier",
    },
    "regression": {
        "ridge": "sklearn.linear_model:Ridge",
        "elastic_net": "sklearn.linear_model:ElasticNet",
        "random_forest": "sklearn.ensemble:RandomForestRegressor",
        "gradient_boosting": "sklearn.ensemble:HistGradientBoostingRegressor",
    },
}

DEFAULT_PARAMS_PATH = Path("params.yaml")
#: Hyperparameters that set how many processes or threads an estimator starts.
PARALLELISM_PARAMS = ("n_jobs",)


class _Section(BaseModel):
    """Base of every section: unknown keys are errors, values are not silently coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class GateThresholds(_Section):
    """Thresholds of the gates (``gates:`` in params.yaml); ``None`` turns a gate off.

    Data gates have defaults that fit most tabular data; model gates depend on the data and
    have none: params.yaml sets them for the bundled datasets.
    """

    max_missing_share: float | None = Field(default=0.05, ge=0, le=1)
    max_duplicate_share: float | None = Field(default=0.05, ge=0, le=1)
    max_conflicting_labels_share: float | None = Field(default=0.0, ge=0, le=1)
    max_feature_label_pps: float | None = Field(default=0.9, ge=0, le=1)
    max_train_test_duplicates_share: float | None = Field(default=0.0, ge=0, le=1)
    max_new_category_share: float | None = Field(default=0.01, ge=0, le=1)
    max_new_label_share: float | None = Field(default=0.0, ge=0, le=1)
    max_feature_drift: float | None = Field(default=0.25, ge=0, le=1)
    max_label_drift: float | None = Field(default=0.2, ge=0, le=1)
    min_test_accuracy: float | None = Field(default=None, ge=0, le=1)
    min_test_roc_auc: float | None = Field(default=None, ge=0, le=1)
    min_test_r2: float | None = Field(default=None, le=1)
    max_test_rmse: float | None = Field(default=None, ge=0)
    max_train_test_gap: float | None = Field(default=None, ge=0)
    min_gain_over_simple_model: float | None = Field(default=None, ge=-1, le=1)
    max_prediction_drift: float | None = Field(default=0.25, ge=0, le=1)
    max_brier_score: float | None = Field(default=None, ge=0, le=1)
    max_systematic_error_ratio: float | None = Field(default=None, ge=0)

    def misapplied(self, task: str) -> list[tuple[str, str]]:
        """Return (gate name, message) for thresholds set for a gate of the other task."""
        return [
            (name, f"applies to {spec.task} only; remove it or set it to null")
            for name, spec in GATES.items()
            if spec.task not in (None, task)
            and getattr(self, name) is not None
            and name in self.model_fields_set
        ]


class CheckSettings(_Section):
    """How deepchecks runs (``checks:`` in params.yaml)."""

    #: Rows per dataset (whole data, train, test) that checks look at, sampled with the seed
    #: (stratified by class for classification): check time stops growing with the data.
    sample_size: int = Field(default=10_000, ge=100)
    #: Baseline of Simple Model Comparison: a shallow decision tree, or a dummy model.
    simple_model: Literal["tree", "most_frequent", "uniform", "stratified"] = "tree"
    #: Opt-in checks, off by default because they are slow (and Weak Segments Performance
    #: fails on regression models with the pinned scikit-learn): shown in checks.html only.
    weak_segments: bool = False
    multivariate_drift: bool = False
    #: checks.html loads plotly from a CDN (about 0.1 MB); false embeds it (about 5 MB).
    html_connected: bool = True


class Directional(_Section):
    """Raising ``feature`` must not move the prediction against ``direction``."""

    feature: str = Field(min_length=1)
    direction: Literal["increasing", "decreasing"]


class Example(_Section):
    """A minimum-functionality example: some feature values and the expected outcome.

    Unlisted features take the dataset's median (numeric) or most frequent value (categorical).
    Classification: ``expected`` is the class. Regression: ``expected_min``/``expected_max``.
    """

    name: str = Field(min_length=1)
    features: dict[str, float | int | str]
    expected: float | int | str | None = None
    expected_min: float | None = None
    expected_max: float | None = None

    @model_validator(mode="after")
    def _has_expectation(self) -> Example:
        if self.expected is None and self.expected_min is None and self.expected_max is None:
            raise ValueError("expected: set expected (a class) or expected_min/expected_max")
        return self


class Behaviour(_Section):
    """Behavioural tests of the model (``behaviour:`` in params.yaml), run by tests/model."""

    #: Features the model should not depend on: shuffling one moves predictions (probability
    #: of the positive class, or the regression output scaled by the target's standard
    #: deviation) by at most ``invariance_max_change`` on average.
    invariant_features: list[str] = Field(default_factory=list)
    invariance_max_change: float = Field(default=0.05, gt=0)
    #: Classification: the class whose probability directional tests look at (default: the
    #: last class in sorted order, e.g. 1).
    positive_class: int | str | None = None
    #: Raise the feature by ``directional_step`` standard deviations on every test row.
    directional: list[Directional] = Field(default_factory=list)
    directional_step: float = Field(default=1.0, gt=0)
    #: Tolerance: a prediction may move the wrong way by this much (numerical noise).
    directional_tolerance: float = Field(default=1e-9, ge=0)
    examples: list[Example] = Field(default_factory=list)


class DataParams(_Section):
    """Where the data is and which columns the model uses."""

    path: str = Field(min_length=1)
    target: str = Field(default="target", min_length=1)
    numeric_features: list[str] | None = None
    categorical_features: list[str] | None = None
    exclude: list[str] = Field(default_factory=list)
    test_size: float = 0.2
    #: Rows whose target is missing: false refuses the data (naming the first such line), true
    #: drops them and reports how many.
    drop_missing_target: bool = False
    #: A folder outside the project that data.path and batches (monitor.source, CURRENT) may
    #: resolve into, e.g. a mounted volume; relative paths are relative to the project.
    external_dir: str | None = Field(default=None, min_length=1)

    @field_validator("test_size")
    @classmethod
    def _test_size_is_a_fraction(cls, value: float) -> float:
        if not 0 < value < 1:
            raise ValueError("must be > 0 and < 1")
        return value

    @model_validator(mode="after")
    def _columns_are_disjoint(self) -> DataParams:
        lists = {
            "numeric_features": self.numeric_features or [],
            "categorical_features": self.categorical_features or [],
            "exclude": self.exclude,
        }
        for name, columns in lists.items():
            duplicates = sorted({c for c in columns if columns.count(c) > 1})
            if duplicates:
                raise ValueError(f"{name}: column(s) listed twice: {', '.join(duplicates)}")
            if self.target in columns:
                raise ValueError(f"{name}: must not contain the target column {self.target!r}")
        both = set(lists["numeric_features"]) & set(lists["categorical_features"])
        if both:
            raise ValueError(
                "numeric_features and categorical_features overlap: " + ", ".join(sorted(both))
            )
        return self


class ModelParams(_Section):
    """Which estimator to train and its hyperparameters (passed to ``set_params``)."""

    type: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)


class MonitorThresholds(_Section):
    """Drift monitoring thresholds: a check fails when its value is above its threshold."""

    feature_drift: float = Field(default=0.2, ge=0, le=1)
    label_drift: float = Field(default=0.15, ge=0, le=1)
    prediction_drift: float = Field(default=0.15, ge=0, le=1)
    new_category_ratio: float = Field(default=0.0, ge=0, le=1)
    null_ratio: float = Field(default=0.05, ge=0, le=1)
    duplicate_ratio: float = Field(default=0.1, ge=0, le=1)


class MonitorParams(_Section):
    """Where new data comes from, how retraining uses it, and the drift thresholds."""

    source: str = Field(default="data/batches/stable.csv", min_length=1)
    retrain: Literal["append", "replace"] = "append"
    min_rows: int = Field(default=50, ge=10)
    sample_size: int = Field(default=50_000, ge=100)
    thresholds: MonitorThresholds = Field(default_factory=MonitorThresholds)


class Distribution(_Section):
    """One hyperparameter's search range (``make tune``): Optuna's float, int or categorical."""

    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = Field(default=None, gt=0)
    choices: list[Any] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _complete(self) -> Distribution:
        if self.type == "categorical":
            if self.choices is None or self.low is not None or self.high is not None:
                raise ValueError("choices: a categorical distribution needs choices (no low/high)")
            return self
        if self.low is None or self.high is None or self.choices is not None:
            raise ValueError("low: a float or int distribution needs low and high (no choices)")
        if self.low > self.high:
            raise ValueError(f"low: must be <= high (got {self.low} > {self.high})")
        if self.log and (self.low <= 0 or self.step is not None):
            raise ValueError("log: a log scale needs low > 0 and no step")
        if self.type == "int" and not (
            float(self.low).is_integer() and float(self.high).is_integer()
        ):
            raise ValueError("low: an int distribution needs whole numbers")
        return self


class TuneParams(_Section):
    """Hyperparameter search (``make tune``): per-estimator spaces, budget, metric, storage."""

    #: Trials in the study, counted over every worker that shares its storage.
    trials: int = Field(default=20, ge=1)
    #: Seconds one worker may search (null: no limit).
    timeout: float | None = Field(default=None, gt=0)
    #: A scikit-learn scorer name, greater is better (roc_auc, neg_root_mean_squared_error, ...);
    #: null: accuracy for classification, r2 for regression.
    metric: str | None = Field(default=None, min_length=1)
    cv_folds: int = Field(default=5, ge=2)
    #: Stop unpromising trials after a fold (Optuna's median pruner).
    pruning: bool = True
    #: null: a SQLite file in artifacts/; an RDB URL lets many workers share one study.
    storage: str | None = Field(default=None, min_length=1)
    #: model type -> hyperparameter -> distribution. Types left out cannot be tuned.
    space: dict[str, dict[str, Distribution]] = Field(default_factory=dict)


class TrafficLogParams(_Section):
    """Where the service logs its predictions (:mod:`.serving.traffic`); ``dir: null``: nowhere."""

    dir: str | None = Field(default="data/traffic", min_length=1)
    max_file_mb: int = Field(default=16, ge=1, le=4096)
    keep_files: int = Field(default=8, ge=1, le=10_000)


class ServingParams(_Section):
    """How the HTTP service treats requests (recorded in the lineage, so the bento carries it)."""

    #: Largest request body in KiB; a larger one gets 413 before it is read into memory.
    max_body_kb: int = Field(default=2048, ge=1, le=1_048_576)
    #: Fields a record carries beyond the features: forbid (400 naming them) or ignore.
    extra_fields: Literal["forbid", "ignore"] = "forbid"
    #: The traffic log (``make monitor CURRENT=<its dir>``); ``TRAFFIC_LOG_DIR`` overrides dir.
    traffic_log: TrafficLogParams = Field(default_factory=TrafficLogParams)
    #: BentoML's access log: one line per request (the traffic log already records each row).
    access_log: bool = False
    #: OpenTelemetry spans per request (export them with BentoML's ``tracing`` configuration).
    tracing: bool = False


class Params(_Section):
    """The whole of ``params.yaml``."""

    task: Task
    seed: int = Field(default=42, ge=0, le=2**32 - 1)
    data: DataParams
    model: ModelParams
    gates: GateThresholds = Field(default_factory=GateThresholds)
    checks: CheckSettings = Field(default_factory=CheckSettings)
    behaviour: Behaviour = Field(default_factory=Behaviour)
    monitor: MonitorParams = Field(default_factory=MonitorParams)
    tune: TuneParams = Field(default_factory=TuneParams)
    serving: ServingParams = Field(default_factory=ServingParams)

    @model_validator(mode="after")
    def _model_fits_task(self) -> Params:
        allowed = MODELS[self.task]
        if self.model.type not in allowed:
            raise _KeyedValueError(
                ("model", "type"),
                f"must be one of {', '.join(sorted(allowed))} for task {self.task} "
                f"(got {self.model.type!r})",
            )
        for name, message in self.gates.misapplied(self.task):
            raise _KeyedValueError(("gates", name), message)
        for name in self.tune.space:
            if name not in allowed:
                raise _KeyedValueError(
                    ("tune", "space", name),
                    f"not a model type of task {self.task} (one of {', '.join(sorted(allowed))})",
                )
        return self

    def to_dict(self) -> dict[str, Any]:
        """Return the validated parameters as plain JSON-compatible data."""
        return self.model_dump(mode="json")


class _KeyedValueError(ValueError):
    """A ValueError raised by a model validator that knows the exact key path at fault."""

    def __init__(self, loc: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def _describe(error: ErrorDetails) -> tuple[str, str]:
    """Turn one pydantic error into (key path, rule) in this project's wording."""
    loc = ".".join(str(part) for part in error["loc"]) or "<top level>"
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    original = ctx.get("error")
    if isinstance(original, _KeyedValueError):
        return ".".join(original.loc), original.message
    if kind == "extra_forbidden":
        return loc, "unknown key"
    if kind == "missing":
        return loc, "required key is missing"
    if kind == "value_error":
        message = str(original) if original is not None else error["msg"]
        # A message "sub.key: rule" from a section validator names a sub-key of loc.
        match = re.fullmatch(r"(\w+): (.*)", message, flags=re.DOTALL)
        if match and kind == "value_error" and match.group(1).isidentifier():
            sub, message = match.groups()
            loc = f"{loc}.{sub}" if loc != "<top level>" else sub
            return loc, message
        return loc, f"{message} (got {value!r})" if not isinstance(value, dict) else message
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<"}
    bounds["less_than_equal"] = "<="
    if kind in bounds:
        limit = next(iter(ctx.values()))
        return loc, f"must be {bounds[kind]} {limit} (got {value!r})"
    if kind == "literal_error":
        return loc, f"must be one of {ctx.get('expected')} (got {value!r})"
    if kind == "string_too_short":
        return loc, "must not be empty"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        expected = kind.removesuffix("_type").removesuffix("_parsing")
        names = {"int": "an integer", "float": "a number", "string": "a string"}
        names |= {"list": "a list", "dict": "a mapping", "bool": "true or false"}
        return loc, f"must be {names.get(expected, expected)} (got {value!r})"
    return loc, f"{error['msg'][0].lower()}{error['msg'][1:]} (got {value!r})"


def _format_validation_error(source: str, exc: ValidationError) -> str:
    parts = [f"{loc}: {rule}" for loc, rule in (_describe(e) for e in exc.errors())]
    return f"{source}: " + f"; {source}: ".join(parts)


def estimator_class(task: str, model_type: str) -> type:
    """Import and return the scikit-learn estimator class for a model type of a task."""
    module_name, class_name = MODELS[task][model_type].split(":")
    estimator: type = getattr(importlib.import_module(module_name), class_name)
    return estimator


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS and Windows
        return os.cpu_count() or 1


def cap_parallelism(hyperparameters: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Hold worker counts (:data:`PARALLELISM_PARAMS`) to the CPUs of this machine.

    params.yaml is shared by laptops and CI runners of different sizes, so a count above this
    machine's CPUs is capped rather than refused (a process per worker on too few CPUs only
    slows training down, or exhausts memory). Returns the hyperparameters to use and one note
    per capped key.
    """
    cpus = available_cpus()
    capped, notes = dict(hyperparameters), []
    for key in PARALLELISM_PARAMS:
        value = hyperparameters.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > cpus:
            capped[key] = cpus
            notes.append(f"model.params.{key}: {value} is more than the {cpus} CPUs here: {cpus}")
    return capped, notes


def check_hyperparameters(params: Params, source: str = "params.yaml") -> None:
    """Validate ``model.params`` against the chosen estimator's ``get_params``/``set_params``.

    Raises:
        ConfigError: naming ``model.params.<key>`` and the estimator's rule.
    """
    cls = estimator_class(params.task, params.model.type)
    estimator = cls()
    valid = estimator.get_params(deep=False)
    for key in params.model.params:
        if key not in valid:
            raise ConfigError(
                f"{source}: model.params.{key}: not a hyperparameter of {cls.__name__} "
                f"(valid: {', '.join(sorted(valid))})"
            )
    for key in PARALLELISM_PARAMS:
        if params.model.params.get(key) == 0:
            raise ConfigError(
                f"{source}: model.params.{key}: 0 starts no worker "
                "(use a count, or -1 for every CPU)"
            )
    estimator.set_params(**params.model.params)
    validate = getattr(estimator, "_validate_params", None)  # scikit-learn >= 1.2
    if validate is None:
        return
    try:
        validate()
    except (ValueError, TypeError) as exc:
        text = str(exc)
        match = re.match(r"The '(\w+)' parameter of \w+ (must be .*?)\.? Got (.*) instead\.", text)
        if match:
            key, rule, got = match.groups()
            raise ConfigError(f"{source}: model.params.{key}: {rule} (got {got})") from exc
        raise ConfigError(f"{source}: model.params: {text}") from exc


def check_tune_space(params: Params, source: str = "params.yaml") -> None:
    """Refuse a tuned name that is not a hyperparameter of its estimator, or a bad metric.

    Raises:
        ConfigError: naming ``tune.space.<type>.<name>`` or ``tune.metric``.
    """
    if not params.tune.space and params.tune.metric is None:
        return
    from sklearn.metrics import get_scorer_names

    for model_type, space in params.tune.space.items():
        cls = estimator_class(params.task, model_type)
        valid = cls().get_params(deep=False)
        for key in space:
            if key not in valid:
                raise ConfigError(
                    f"{source}: tune.space.{model_type}.{key}: not a hyperparameter of "
                    f"{cls.__name__} (valid: {', '.join(sorted(valid))})"
                )
    metric = params.tune.metric
    if metric is not None and metric not in get_scorer_names():
        raise ConfigError(
            f"{source}: tune.metric: {metric!r} is not a scikit-learn scorer name "
            "(e.g. roc_auc, accuracy, r2, neg_root_mean_squared_error)"
        )


def parse_params(raw: Any, source: str = "params.yaml") -> Params:  # noqa: ANN401 - YAML value
    """Validate already-parsed YAML data; return typed :class:`Params`.

    Raises:
        ConfigError: on the first group of problems, all listed in one message.
    """
    if not isinstance(raw, dict):
        kind = "empty" if raw is None else f"a {type(raw).__name__}"
        raise ConfigError(f"{source}: must be a mapping of keys to values (the file is {kind})")
    try:
        params = Params.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(source, exc)) from None
    check_hyperparameters(params, source)
    check_tune_space(params, source)
    return params


def data_folders(params: Params, root: Path) -> list[Path]:
    """The folders data may resolve into: the project, and ``data.external_dir`` when set."""
    external = params.data.external_dir
    return [root] if external is None else [root, root / external]


def check_paths(params: Params, root: Path, source: str = "params.yaml") -> None:
    """Refuse data paths that resolve (symlinks followed) outside :func:`data_folders`.

    Raises:
        PathError: naming the key, the path and where it resolves to.
    """
    folders = data_folders(params, root)
    data, batches = params.data.path, params.monitor.source
    ensure_inside(root / data, folders, f"{source}: data.path {data!r}")
    ensure_inside(root / glob_base(batches), folders, f"{source}: monitor.source {batches!r}")


def load_params(path: str | Path = DEFAULT_PARAMS_PATH) -> Params:
    """Read and validate a params file; its paths are relative to its folder (the project).

    Raises:
        ConfigError: if the file is missing, is not valid YAML or holds invalid values.
        PathError: if a data path resolves outside the project (see :func:`check_paths`).
    """
    import yaml

    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot be read: {exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}: invalid YAML{where}: {problem}") from None
    params = parse_params(raw, source)
    check_paths(params, Path(path).parent, source)
    return params
