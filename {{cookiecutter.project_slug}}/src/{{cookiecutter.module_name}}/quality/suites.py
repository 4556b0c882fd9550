"""The deepchecks plumbing: its suites built from the gates, datasets, samples, and a quiet run."""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .gate_readers import main_metric

if TYPE_CHECKING:
    import pandas as pd

    from ..config import CheckSettings


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
