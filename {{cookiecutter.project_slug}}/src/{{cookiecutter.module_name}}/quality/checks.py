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
uses too). deepchecks (slow to import) is imported only when checks run, with its telemetry off.

The suites and deepchecks' plumbing are in :mod:`.suites`, the HTML report in
:mod:`.check_html`, the result and its ``checks.json`` record in :mod:`.check_record`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ArtifactError
from ..layout import CHECKS_HTML, CHECKS_JSON, ArtifactLayout
from ..progress import Progress, quiet
from ..records import ChecksRecord
from .check_html import write_html
from .check_record import ChecksResult, record_fields
from .gate_readers import Context
from .gates import GATES, Gate, evaluate, results_by_check
from .suites import SUITES, CheckInputs, quiet_stack, run_suites, sample

if TYPE_CHECKING:
    from ..config import CheckSettings, GateThresholds, Params


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


def load_model(artifacts_dir: Path) -> Any:  # noqa: ANN401 - a fitted Pipeline
    """Load ``model.joblib`` from ``artifacts_dir``; ArtifactError if it is missing.

    Whether the model is current is :func:`~..pipeline.lineage.ensure_current`'s job (callers run
    it).
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
    from ..data import load_dataset, split
    from ..pipeline.lineage import ensure_current

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
    from ..artifacts import StagingDir, atomic_write_json, sha256_file
    from ..pipeline.lineage import ensure_current

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
