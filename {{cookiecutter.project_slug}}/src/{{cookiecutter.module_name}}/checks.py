"""Data and model quality checks with deepchecks, turned into pass/fail gates.

Three curated suites run on samples of at most ``checks.sample_size`` rows per dataset:

* data integrity on the whole dataset: missing values, duplicates, conflicting labels, the
  predictive power of single features (leakage), single-value columns;
* train-test validation: train rows repeated in test, new categories and labels, feature and
  label drift;
* model evaluation: train and test performance, gain over a simple model, prediction drift,
  calibration (classification) or error distribution (regression).

Every gate value is read from a deepchecks ``CheckResult.value`` by the gate's reader and judged
against its threshold from params.yaml by :func:`.gates.evaluate` (the engine ``make monitor``
uses too). deepchecks (slow to import) is imported only when checks
run, with its telemetry off.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ArtifactError
from .gates import (
    GATES,
    Context,
    Gate,
    direction,
    evaluate,
    main_metric,
    results_by_check,
    spec,
    verdict_table,
)
from .layout import CHECKS_HTML, CHECKS_JSON, ArtifactLayout
from .progress import Progress, quiet
from .records import ChecksRecord, Lineage

if TYPE_CHECKING:
    import pandas as pd

    from .config import CheckSettings, GateThresholds, Params

#: The suites, in run order; every gate belongs to one (see gates.GATES).
SUITES = ("data_integrity", "train_test_validation", "model_evaluation")


#: Warnings the pinned stack raises on every run; they say nothing about the data or model.
#: (category, start of the message); filtered only while deepchecks runs.
_NOISE: tuple[tuple[type[Warning], str], ...] = (
    (UserWarning, "pkg_resources is deprecated"),
    (DeprecationWarning, "pkg_resources is deprecated"),
    (DeprecationWarning, "Deprecated call to `pkg_resources"),
    (FutureWarning, "The `needs_threshold` and `needs_proba` parameter are deprecated"),
    (FutureWarning, "DataFrame.applymap has been deprecated"),
    (FutureWarning, "'squared' is deprecated"),
    (FutureWarning, "Series.__getitem__ treating keys as positions is deprecated"),
    (DeprecationWarning, "is_categorical_dtype is deprecated"),
    (FutureWarning, "is_categorical_dtype is deprecated"),
)


@contextlib.contextmanager
def quiet_stack() -> Iterator[None]:
    """Silence the known noise of the pinned stack (and nothing else) for a block."""
    with warnings.catch_warnings():
        for category, message in _NOISE:
            warnings.filterwarnings("ignore", message=re.escape(message), category=category)
        yield


def import_deepchecks() -> Any:  # noqa: ANN401 - the deepchecks.tabular module
    """Import deepchecks.tabular with its telemetry off."""
    if not os.environ.get("DISABLE_DEEPCHECKS_ANONYMOUS_TELEMETRY"):  # any non-empty value
        os.environ["DISABLE_DEEPCHECKS_ANONYMOUS_TELEMETRY"] = "1"
    with quiet_stack():
        import deepchecks.tabular
        import deepchecks.tabular.checks

    return deepchecks.tabular


def sample(
    frame: pd.DataFrame, size: int, seed: int, stratify_by: str | None = None
) -> pd.DataFrame:
    """Return at most ``size`` rows of ``frame``, stratified by a column if given.

    Each class keeps its share of the rows (rounded, at least one row per class).
    """
    if len(frame) <= size:
        return frame
    if stratify_by is None:
        return frame.sample(n=size, random_state=seed)
    fraction = size / len(frame)
    parts = [
        group.sample(n=max(1, round(len(group) * fraction)), random_state=seed)
        for _, group in frame.groupby(stratify_by, sort=True, dropna=False)
    ]
    import pandas as pd

    return pd.concat(parts).sort_index()


@dataclass(frozen=True)
class CheckInputs:
    """What the checks look at: frames with the feature columns and the target, and the model."""

    task: str
    target: str
    categorical: list[str]
    whole: pd.DataFrame
    train: pd.DataFrame
    test: pd.DataFrame
    model: Any

    @property
    def features(self) -> list[str]:
        """Feature columns in model input order."""
        return [c for c in self.whole.columns if c != self.target]


@dataclass
class ChecksResult:
    """Gates, skipped gates with reasons, and the deepchecks suite results behind them."""

    gates: list[Gate]
    skipped: dict[str, str]
    suite_results: list[Any] = field(repr=False)
    rows: dict[str, int]
    seconds: float

    @property
    def passed(self) -> bool:
        """True if every gate that ran passed."""
        return all(gate.passed for gate in self.gates)

    @property
    def failed(self) -> list[str]:
        """Names of the failed gates."""
        return [gate.name for gate in self.gates if not gate.passed]

    def gate(self, name: str) -> Gate | None:
        """The gate called ``name``, or None if it was skipped (see :attr:`skipped`)."""
        return next((gate for gate in self.gates if gate.name == name), None)

    def table(self) -> str:
        """The readable verdict table."""
        return verdict_table(self.gates, self.skipped)

    def to_dict(self) -> dict[str, Any]:
        """The machine-readable summary (checks.json without the run's provenance)."""
        return {
            "passed": self.passed,
            "failed": self.failed,
            "gates": [gate.to_dict() for gate in self.gates],
            "skipped": [{"name": n, "reason": r} for n, r in self.skipped.items()],
            "rows": self.rows,
            "seconds": round(self.seconds, 2),
        }


def _scorers(task: str, n_classes: int) -> dict[str, str]:
    """Deepchecks scorers by the metric names of metrics.json."""
    if task == "classification":
        return {"roc_auc": "roc_auc" if n_classes <= 2 else "roc_auc_ovr", "accuracy": "accuracy"}
    return {"r2": "r2", "rmse": "neg_rmse"}


def build_suites(
    inputs: CheckInputs, settings: CheckSettings, seed: int
) -> dict[str, Any]:  # values: deepchecks Suite
    """Return the three curated suites by name (see :data:`SUITES`)."""
    dc = import_deepchecks()
    checks = dc.checks
    classification = inputs.task == "classification"
    n_classes = inputs.whole[inputs.target].nunique() if classification else 0
    scorers = _scorers(inputs.task, n_classes)

    integrity = [checks.PercentOfNulls(), checks.DataDuplicates(), checks.IsSingleValue()]
    if classification:
        integrity.append(checks.ConflictingLabels())
    integrity.append(checks.FeatureLabelCorrelation(random_state=seed))

    train_test = [checks.TrainTestSamplesMix()]
    if inputs.categorical:
        train_test.append(checks.NewCategoryTrainTest())
    if classification:
        train_test.append(checks.NewLabelTrainTest())
    train_test += [checks.FeatureDrift(), checks.LabelDrift()]
    if settings.multivariate_drift:
        train_test.append(checks.MultivariateDrift())

    model = [
        checks.TrainTestPerformance(scorers=scorers),
        checks.SimpleModelComparison(
            scorers={main_metric(inputs.task): scorers[main_metric(inputs.task)]},
            strategy=settings.simple_model,
            random_state=seed,
        ),
        checks.PredictionDrift(),
    ]
    if classification:
        model.append(checks.CalibrationScore())
        if settings.weak_segments:
            model.append(checks.WeakSegmentsPerformance(random_state=seed))
    else:
        model.append(checks.RegressionErrorDistribution())
    return {
        "data_integrity": dc.Suite("Data integrity (whole dataset)", *integrity),
        "train_test_validation": dc.Suite("Train-test validation", *train_test),
        "model_evaluation": dc.Suite("Model evaluation", *model),
    }


def label_type(task: str, n_classes: int) -> str:
    """Deepchecks' label type: ``regression``, ``binary`` or ``multiclass``."""
    if task == "regression":
        return "regression"
    return "binary" if n_classes <= 2 else "multiclass"


def build_dataset(
    frame: pd.DataFrame,
    features: list[str],
    categorical: list[str],
    kind: str,
    label: str | None = None,
) -> Any:  # noqa: ANN401 - a deepchecks Dataset
    """Return a deepchecks Dataset of the feature columns, and of ``label`` when given.

    Args:
        frame: the rows; columns besides the features (and the label) are left out.
        features: feature columns in model input order.
        categorical: the categorical ones among them.
        kind: the label type (see :func:`label_type`), also needed without a label.
        label: the target column, or None for unlabelled data (e.g. a batch of new data).
    """
    dc = import_deepchecks()
    return dc.Dataset(
        frame[[*features, label]] if label else frame[features],
        label=label,
        features=features,
        cat_features=list(categorical),
        label_type=kind,
    )


def _dataset(inputs: CheckInputs, frame: pd.DataFrame) -> Any:  # noqa: ANN401 - deepchecks Dataset
    n_classes = inputs.whole[inputs.target].nunique() if inputs.task == "classification" else 0
    kind = label_type(inputs.task, n_classes)
    return build_dataset(frame, inputs.features, inputs.categorical, kind, inputs.target)


def run_suites(
    inputs: CheckInputs, settings: CheckSettings, seed: int, suites: tuple[str, ...] = SUITES
) -> list[Any]:
    """Run the named suites and return their deepchecks ``SuiteResult`` objects."""
    import logging

    built = build_suites(inputs, settings, seed)  # imports deepchecks quietly, telemetry off
    from deepchecks.utils.logger import get_verbosity, set_verbosity

    verbosity = get_verbosity()
    set_verbosity(logging.WARNING)  # no progress bars: make and CI logs are not terminals
    try:
        with quiet_stack():
            train, test = _dataset(inputs, inputs.train), _dataset(inputs, inputs.test)
            results = []
            if "data_integrity" in suites:
                whole = _dataset(inputs, inputs.whole)
                results.append(built["data_integrity"].run(train_dataset=whole))
            if "train_test_validation" in suites:
                results.append(
                    built["train_test_validation"].run(train_dataset=train, test_dataset=test)
                )
            if "model_evaluation" in suites:
                results.append(
                    built["model_evaluation"].run(
                        train_dataset=train,
                        test_dataset=test,
                        model=inputs.model,
                        run_single_dataset="Test",
                    )
                )
            return results
    finally:
        set_verbosity(verbosity)


def evaluate_gates(
    suite_results: list[Any],
    inputs: CheckInputs,
    thresholds: GateThresholds,
    suites: tuple[str, ...] = SUITES,
) -> tuple[list[Gate], dict[str, str]]:
    """Judge :data:`~.gates.GATES` on the suites' results; return (gates, skipped -> reason)."""
    results = results_by_check(check for suite in suite_results for check in suite.results)
    ctx = Context(inputs.task, inputs.target, inputs.features, inputs.categorical)
    return evaluate(GATES, results, thresholds.model_dump(), ctx, suites)


def run_checks(
    inputs: CheckInputs,
    thresholds: GateThresholds,
    settings: CheckSettings,
    seed: int,
    suites: tuple[str, ...] = SUITES,
) -> ChecksResult:
    """Sample the inputs, run the suites and evaluate their gates (no files written).

    Args:
        inputs: data and model; the model may be None when ``suites`` leaves out
            ``model_evaluation``.
        thresholds: gate thresholds (``gates:`` in params.yaml).
        settings: sample size and opt-in checks (``checks:`` in params.yaml).
        seed: random seed of the sampling and of the checks that draw at random.
        suites: which of :data:`SUITES` to run.
    """
    started = time.perf_counter()
    stratify = inputs.target if inputs.task == "classification" else None
    size = settings.sample_size
    sampled = CheckInputs(
        task=inputs.task,
        target=inputs.target,
        categorical=inputs.categorical,
        whole=sample(inputs.whole, size, seed, stratify),
        train=sample(inputs.train, size, seed, stratify),
        test=sample(inputs.test, size, seed, stratify),
        model=inputs.model,
    )
    suite_results = run_suites(sampled, settings, seed, suites)
    with quiet_stack():
        gates, skipped = evaluate_gates(suite_results, sampled, thresholds, suites)
    rows = {"whole": len(sampled.whole), "train": len(sampled.train), "test": len(sampled.test)}
    return ChecksResult(gates, skipped, suite_results, rows, time.perf_counter() - started)


def write_html(result: ChecksResult, path: Path, connected: bool = True) -> Path:
    """Write the deepchecks report of every suite as one HTML page, replacing ``path``.

    The page opens with the gates' table (value, threshold, result of each), the verdict the
    deepchecks sections below support. See :func:`save_html` for ``connected``.
    """
    from deepchecks.core import SuiteResult

    combined = SuiteResult(
        "Quality gates",
        [check for suite in result.suite_results for check in suite.results],
        extra_info=[line for line in result.table().splitlines() if line.startswith("PASS")]
        + [line for line in result.table().splitlines() if line.startswith("FAIL")],
    )
    return save_html(combined, path, connected, preface=gates_html(result.gates, result.skipped))


def gates_html(gates: list[Gate], skipped: dict[str, str]) -> str:
    """An HTML section listing each gate with its value, threshold and result."""
    from html import escape

    def number(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4g}"

    passed = sum(gate.passed for gate in gates)
    rows = "".join(
        f"<tr title='{escape(spec(g.name).meaning)}'><td>{escape(g.name)}</td>"
        f"<td>{escape(g.suite)}</td><td>{number(g.value)}</td>"
        f"<td>{'&le;' if direction(g.name) == 'max' else '&ge;'} {number(g.threshold)}</td>"
        f"<td style='color:{'#1a7f37' if g.passed else '#cf222e'}'>"
        f"{'pass' if g.passed else '<b>FAIL</b>'}</td><td>{escape(g.detail)}</td></tr>"
        for g in sorted(gates, key=lambda gate: gate.passed)
    )
    skips = "".join(f"<li>{escape(n)}: {escape(r)}</li>" for n, r in skipped.items())
    return (
        "<section id='quality-gates' style='font-family:sans-serif;margin:1em'>"
        f"<h2>Quality gates: {passed} of {len(gates)} passed</h2>"
        "<p>Thresholds from params.yaml (<code>gates:</code>); the deepchecks results below are "
        "what the values were measured from.</p>"
        "<table border='1' cellpadding='4' style='border-collapse:collapse'>"
        "<tr><th>Gate</th><th>Suite</th><th>Value</th><th>Threshold</th><th>Result</th>"
        f"<th>Detail</th></tr>{rows}</table>"
        + (f"<p>Skipped:</p><ul>{skips}</ul>" if skips else "")
        + "</section>"
    )


#: Where the preface goes: right after the page's opening <body> tag.
_BODY_TAG = re.compile(r"<body[^>]*>", re.IGNORECASE)


def save_html(
    suite_result: Any,  # noqa: ANN401 - a deepchecks SuiteResult
    path: Path,
    connected: bool = True,
    preface: str = "",
) -> Path:
    """Write a deepchecks result as an HTML page that atomically replaces ``path``.

    ``connected=True`` writes deepchecks' widget page that loads its JavaScript from a CDN
    (about 0.25 MB; viewing needs internet); ``False`` a self-contained page with plotly
    embedded (about 5 MB) that opens offline. ``preface`` (HTML) goes first in the page's body.
    The page is rendered in memory and written with :func:`~.artifacts.atomic_write_text`
    (``save_as_html`` given a file name never overwrites: it writes "name (1).html").
    """
    import io

    from .artifacts import atomic_write_text

    with quiet_stack():
        if connected:
            buffer = io.StringIO()
            suite_result.save_as_html(buffer, as_widget=True, connected=True)
            page = buffer.getvalue()
        else:  # deepchecks' own save_as_html refuses an in-memory file in this mode
            page = suite_result.html_serializer.serialize(
                full_html=True, include_requirejs=True, include_plotlyjs=True, connected=False
            )
    if preface:
        match = _BODY_TAG.search(page)
        at = match.end() if match else 0
        page = page[:at] + preface + page[at:]
    return atomic_write_text(path, page)


def load_model(artifacts_dir: Path) -> Any:  # noqa: ANN401 - a fitted Pipeline
    """Load ``model.joblib`` from ``artifacts_dir``; ArtifactError if it is missing.

    Whether the model is current is :func:`~.lineage.ensure_current`'s job (callers run it).
    """
    import joblib

    model_path = ArtifactLayout(artifacts_dir).model
    if not model_path.is_file():
        raise ArtifactError(f"{model_path}: not found; run `make train` first")
    return joblib.load(model_path)


def project_inputs(
    params: Params, root: Path, artifacts_dir: Path, with_model: bool = True
) -> CheckInputs:
    """Load the configured data, split it exactly as training did, and load the model.

    ``with_model=False`` leaves the model out (data checks need none: no training first).
    """
    from .data import load_dataset, split
    from .lineage import ensure_current

    dataset = load_dataset(params, root)
    if with_model:  # refuse a model trained with other params or data
        ensure_current(params, root, artifacts_dir)
    classification = params.task == "classification"
    x_train, x_test, y_train, y_test = split(
        dataset, params.data.test_size, params.seed, stratify=classification
    )
    return CheckInputs(
        task=params.task,
        target=dataset.target,
        categorical=list(dataset.categorical),
        whole=dataset.frame,
        train=x_train.assign(**{dataset.target: y_train}),
        test=x_test.assign(**{dataset.target: y_test}),
        model=load_model(artifacts_dir) if with_model else None,
    )


def run_project_checks(
    params: Params,
    root: Path = Path(),
    artifacts_dir: Path | None = None,
    progress: Progress = quiet,
) -> ChecksResult:
    """Run the checks on the project's data and model; write checks.html and checks.json.

    The two files are one unit: written together into a staging folder, the old pair removed,
    then both moved into place, the record last. A run killed on the way leaves both, or
    neither, never one of each run.

    Raises:
        DataError: if the data is invalid.
        ArtifactError: if the model is missing or was trained on other data.
    """
    artifacts = ArtifactLayout.of(root, artifacts_dir).dir
    with quiet_stack():
        return _run_project_checks(params, root, artifacts, progress)


def _run_project_checks(
    params: Params, root: Path, artifacts: Path, progress: Progress
) -> ChecksResult:
    from .artifacts import StagingDir, atomic_write_json, sha256_file
    from .lineage import ensure_current

    lineage = ensure_current(params, root, artifacts)
    inputs = project_inputs(params, root, artifacts)
    progress(
        f"running deepchecks on up to {params.checks.sample_size} rows per dataset "
        f"({len(inputs.whole)} rows, {len(inputs.train)} train, {len(inputs.test)} test)"
    )
    result = run_checks(inputs, params.gates, params.checks, params.seed)
    progress(f"checks ran in {result.seconds:.1f} s")
    with StagingDir(artifacts) as stage:
        staged = ArtifactLayout(stage.path)
        html = write_html(result, staged.checks_html, connected=params.checks.html_connected)
        record = (
            result.to_dict()
            | record_fields(lineage, params)
            | {
                "sample_size": params.checks.sample_size,
                "html": CHECKS_HTML,
                "html_sha256": sha256_file(html),
                # The report says whether the page opens offline (self-contained) or not.
                "html_connected": params.checks.html_connected,
            }
        )
        atomic_write_json(staged.checks, ChecksRecord.parse(record, CHECKS_JSON).to_json())
        stage.remove(CHECKS_JSON, CHECKS_HTML)
        stage.commit(order=[CHECKS_HTML, CHECKS_JSON])
    return result


def record_fields(lineage: Lineage, params: Params) -> dict[str, Any]:
    """What ties a gate record to one model: its training run's fingerprints and the thresholds.

    ``model_sha256``, ``data_sha256`` and ``params_sha256`` come from the lineage record of the
    model the checks ran on; ``thresholds`` are the gates they were judged against.
    """
    return {
        "task": params.task,
        "model_sha256": lineage.model.sha256,
        "data_sha256": lineage.data.sha256,
        "params_sha256": lineage.params_sha256,
        "thresholds": params.gates.model_dump(mode="json"),
    }


def record_differs(
    record: ChecksRecord, lineage: Lineage, params: Params, artifacts_dir: Path
) -> list[str]:
    """What ties the gate record to another run than ``lineage`` with ``params`` (empty: none).

    The model, data and training params fingerprints, the thresholds, and the checks.html beside
    it (its hash).
    """
    from .artifacts import sha256_file

    expected = record_fields(lineage, params)
    fields = record.model_dump(mode="json")
    differs = [key.removesuffix("_sha256") for key in expected if fields.get(key) != expected[key]]
    html = ArtifactLayout(artifacts_dir).checks_html
    if not html.is_file() or sha256_file(html) != record.html_sha256:
        differs.append(CHECKS_HTML)
    return differs


def recorded_checks(params: Params, root: Path, artifacts_dir: Path) -> ChecksResult | None:
    """The gates `make check` recorded for the current model (checks.json), or None.

    None when there is no record, or it is about another model, data, params or thresholds (or
    a checks.html not its own): the caller then runs the suites. Failed gates are kept as they
    are: the record is the verdict of the very suites the caller would run.

    Raises:
        ArtifactError: the model is not current (see :func:`~.lineage.ensure_current`).
    """
    from .lineage import ensure_current

    path = ArtifactLayout(artifacts_dir).checks
    if not path.is_file():
        return None
    lineage = ensure_current(params, root, artifacts_dir)
    try:
        record = ChecksRecord.read(path)
    except ArtifactError:  # a record of another shape: run the suites instead
        return None
    if record_differs(record, lineage, params, artifacts_dir):
        return None
    gates = [Gate(**gate.model_dump()) for gate in record.gates]
    skipped = {item.name: item.reason for item in record.skipped}
    return ChecksResult(gates, skipped, [], dict(record.rows), 0.0)


def ensure_record_current(
    record: ChecksRecord, lineage: Lineage, params: Params, artifacts_dir: Path
) -> None:
    """Refuse a gate record (checks.json) that is not about the current model, or did not pass.

    The record must carry the fingerprints of the model, data and training params of ``lineage``
    (the current run: callers check it with :func:`~.lineage.ensure_current`), the thresholds
    of ``params``, and the hash of the checks.html beside it; and every gate must have passed.

    Raises:
        ArtifactError: naming what differs, or the failed gates.
    """
    differs = record_differs(record, lineage, params, artifacts_dir)
    if differs:
        raise ArtifactError(
            f"{artifacts_dir.name}/{CHECKS_JSON} is not the gate record of the current model "
            f"({', '.join(differs)} differ): run `make check`"
        )
    if record.passed is not True:
        failed = [gate.name for gate in record.gates if not gate.passed]
        which = f": {', '.join(failed)}" if failed else ""
        raise ArtifactError(
            f"the gates did not pass{which} (see {artifacts_dir.name}/{CHECKS_HTML})"
        )
