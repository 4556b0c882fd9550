"""Drift of a batch against the training data: deepchecks measures, the gate engine judges."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import DataError
from ..quality.gate_readers import Context, feature_drift_scores
from ..quality.gates import INTEGRITY_GATES, MONITOR_GATES, Gate, evaluate, results_by_check
from ..records import FeatureDriftScore, Verdict
from .batch import Batch

if TYPE_CHECKING:
    from ..config import Params
    from ..data import Dataset


def _checks(
    params: Params, labelled: bool, feature_count: int
) -> tuple[list[Any], list[Any]]:  # deepchecks checks: untyped library objects
    """The checks :data:`~..quality.gates.MONITOR_GATES` read: (drift checks, batch integrity)."""
    from deepchecks.tabular.checks import (
        DataDuplicates,
        FeatureDrift,
        LabelDrift,
        NewCategoryTrainTest,
        PercentOfNulls,
        PredictionDrift,
    )

    seed = params.seed
    drift = [
        FeatureDrift(n_top_columns=min(feature_count, 10), random_state=seed),
        *([LabelDrift(random_state=seed)] if labelled else []),
        PredictionDrift(random_state=seed),
        NewCategoryTrainTest(),
    ]
    return drift, [PercentOfNulls(), DataDuplicates()]


@dataclass(frozen=True)
class MonitorResult:
    """The judged gates of a batch, its per-feature drift scores and the deepchecks results."""

    gates: list[Gate]
    skipped: dict[str, str]
    features: dict[str, FeatureDriftScore]
    suite: Any = field(repr=False)  # a deepchecks SuiteResult, for monitor.html


def run_checks(
    reference: Dataset,
    batch: Batch,
    model: Any,  # noqa: ANN401 - a fitted scikit-learn Pipeline
    params: Params,
) -> MonitorResult:
    """Run the drift and integrity checks on samples of the training data and the batch.

    The gates are judged by :func:`~..quality.gates.evaluate`
    (:data:`~..quality.gates.MONITOR_GATES`), with the same rule as ``make check``: a value at its
    threshold passes.

    Raises:
        DataError: if deepchecks cannot run a check on this data.
    """
    import pandas as pd

    from ..quality.suites import build_dataset, import_deepchecks, label_type, sample

    import_deepchecks()  # imported with telemetry off and the stack's known warnings silenced
    from deepchecks.core.check_result import CheckFailure
    from deepchecks.core.suite import SuiteResult

    target = reference.target
    size, seed = params.monitor.sample_size, params.seed
    stratify = target if params.task == "classification" else None
    ref_frame = sample(reference.frame, size, seed, stratify)
    cur_frame = sample(batch.frame, size, seed, stratify if batch.labelled else None)
    features = reference.features
    kind = label_type(params.task, len(reference.classes or []))
    # deepchecks needs the label on both sides or on neither.
    label = target if batch.labelled else None
    ref_ds, cur_ds = (
        build_dataset(frame, features, reference.categorical, kind, label)
        for frame in (ref_frame, cur_frame)
    )
    drift_checks, integrity_checks = _checks(params, batch.labelled, len(features))
    # Uniform importances: the drift scores do not use them, and deepchecks would otherwise
    # spend most of the run on permutation importance.
    importance = pd.Series(1 / len(features), index=features)
    results = [
        check.run(
            ref_ds,
            cur_ds,
            model=model,
            feature_importance=importance,
            model_classes=reference.classes,
            with_display=True,
        )
        for check in drift_checks
    ]
    results += [check.run(cur_ds, with_display=True) for check in integrity_checks]
    failures = [r for r in results if isinstance(r, CheckFailure)]
    if failures:
        failure = failures[0]
        raise DataError(f"deepchecks could not run {failure.header}: {failure.exception}")
    by_check = results_by_check(results)
    ctx = Context(params.task, target, list(features), list(reference.categorical), batch.labelled)
    thresholds = params.monitor.thresholds.model_dump()
    gates, skipped = evaluate(MONITOR_GATES, by_check, thresholds, ctx)
    scores = feature_drift_scores(by_check[MONITOR_GATES["feature_drift"].check_class].value)
    return MonitorResult(gates, skipped, scores, SuiteResult("Drift monitoring", results))


def verdict_of(gates: list[Gate]) -> Verdict:
    """``stable``, ``bad-batch`` (an integrity gate failed) or ``drift``."""
    failed = {gate.name for gate in gates if not gate.passed}
    if failed & set(INTEGRITY_GATES):
        return "bad-batch"
    return "drift" if failed else "stable"
