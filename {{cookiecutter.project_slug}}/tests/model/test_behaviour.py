"""Behavioural tests of the trained model, declared under `behaviour:` in params.yaml.

Invariance: shuffling a feature declared irrelevant barely moves predictions. Directional
expectations: raising a feature never moves the prediction against its declared direction.
Minimum functionality: declared examples get their expected outcome.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from numpy.typing import NDArray

from {{ cookiecutter.module_name }}.config import Directional, Example, Params
from {{ cookiecutter.module_name }}.quality.suites import CheckInputs

pytestmark = pytest.mark.model

Score = Callable[[pd.DataFrame], NDArray[np.float64]]


def require_feature(model_inputs: CheckInputs, feature: str, key: str) -> None:
    """Fail naming the project_params key at fault if a declared feature is not a model feature."""
    assert feature in model_inputs.features, (
        f"behaviour.{key}: {feature!r} is not a feature; features are: {model_inputs.features}"
    )


def test_invariance(
    invariant_feature: str, model_inputs: CheckInputs, project_params: Params, score: Score
) -> None:
    require_feature(model_inputs, invariant_feature, "invariant_features")
    frame = model_inputs.test
    shuffled = frame.copy()
    rng = np.random.default_rng(project_params.seed)
    shuffled[invariant_feature] = rng.permutation(frame[invariant_feature].to_numpy())
    change = np.abs(score(shuffled) - score(frame))
    if project_params.task == "regression":
        change = change / model_inputs.whole[model_inputs.target].std()
    limit = project_params.behaviour.invariance_max_change
    assert change.mean() <= limit, (
        f"shuffling {invariant_feature!r} moved predictions by {change.mean():.4f} on average "
        f"(behaviour.invariance_max_change: {limit})"
    )


def test_directional_expectation(
    directional: Directional, model_inputs: CheckInputs, project_params: Params, score: Score
) -> None:
    feature = directional.feature
    require_feature(model_inputs, feature, "directional")
    assert feature not in model_inputs.categorical, (
        f"behaviour.directional: {feature!r} is categorical"
    )
    frame = model_inputs.test
    raised = frame.copy()
    raised[feature] = (
        frame[feature]
        + project_params.behaviour.directional_step * model_inputs.whole[feature].std()
    )
    delta = score(raised) - score(frame)
    if directional.direction == "decreasing":
        delta = -delta
    wrong = delta < -project_params.behaviour.directional_tolerance
    assert not wrong.any(), (
        f"raising {feature!r} moved {int(wrong.sum())} of {len(delta)} predictions the wrong way "
        f"(expected {directional.direction}; worst {delta.min():.4g})"
    )


def test_minimum_functionality(
    example: Example, model_inputs: CheckInputs, project_params: Params
) -> None:
    whole = model_inputs.whole
    row: dict[str, object] = {
        c: whole[c].median() for c in model_inputs.features if c not in model_inputs.categorical
    }
    row |= {c: whole[c].mode().iloc[0] for c in model_inputs.categorical}
    for feature, value in example.features.items():
        require_feature(model_inputs, feature, f"examples.{example.name}")
        row[feature] = value
    frame = pd.DataFrame([row])[model_inputs.features]
    prediction = model_inputs.model.predict(frame)[0]
    if example.expected is not None:
        assert prediction == example.expected, (
            f"{example.name}: predicted {prediction!r}, expected {example.expected!r}"
        )
    if example.expected_min is not None:
        assert prediction >= example.expected_min, f"{example.name}: predicted {prediction:.4g}"
    if example.expected_max is not None:
        assert prediction <= example.expected_max, f"{example.name}: predicted {prediction:.4g}"
