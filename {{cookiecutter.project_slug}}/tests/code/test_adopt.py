"""`make adopt`'s pure parts: gate limits from measured values, task inference, params edits.

The whole command (validation, measuring run, DVC tracking, training) runs in the template's
end-to-end test on real data.
"""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from {{ cookiecutter.module_name }}.config import GateThresholds
from {{ cookiecutter.module_name }}.data.adopt import (
    GATE_MARGIN,
    GATE_SLACK,
    _replace,
    _set_key,
    infer_task,
    threshold,
)
from {{ cookiecutter.module_name }}.errors import ConfigError
from {{ cookiecutter.module_name }}.quality.gates import GATES, direction

pytestmark = pytest.mark.code


@pytest.mark.parametrize(
    ("name", "measured", "expected"),
    [
        ("min_test_accuracy", 0.9, 0.9 - GATE_MARGIN * 0.9),
        ("min_test_roc_auc", 1.0, 1.0 - GATE_MARGIN),
        ("max_missing_share", 0.0, GATE_SLACK),
        ("max_test_rmse", 50.0, 50.0 * (1 + GATE_MARGIN)),
        ("max_feature_drift", 0.99, 1.0),  # a share stays <= 1
        ("max_train_test_gap", -0.02, 0.0),  # a negative gap still gives a valid limit
        ("min_gain_over_simple_model", -0.99, -1.0),
    ],
)
def test_a_limit_is_the_measured_value_with_the_margin(
    name: str, measured: float, expected: float
) -> None:
    limit = threshold(name, measured)
    assert limit == pytest.approx(expected, abs=1e-4)
    assert (limit <= measured) if direction(name) == "min" else (limit >= measured)
    GateThresholds(**{name: limit})  # inside the gate's bounds


def test_every_gate_has_bounds_adopt_can_read() -> None:
    for name in GATES:
        assert threshold(name, 0.5) is not None


def test_the_task_follows_the_target() -> None:
    frame = pd.DataFrame({"y": [float(i) for i in range(30)], "c": ["a", "b", "c"] * 10})
    assert infer_task(frame, "y")[0] == "regression"
    assert infer_task(frame, "c")[0] == "classification"
    assert infer_task(frame.assign(y=[0, 1] * 15), "y")[0] == "classification"


PARAMS = """# top comment
task: classification

data:
  # where the data is
  path: data/a.csv  # trailing
  target: target

# comment of the next section
gates:
  max_missing_share: 0.05
"""


def test_params_are_edited_in_place_with_their_comments() -> None:
    text = _replace(PARAMS, "data", lambda block: _set_key(block, "path", "data/b c.csv"))
    text = _replace(text, "data", lambda block: _set_key(block, "drop_missing_target", True))
    assert "# where the data is" in text
    assert "# comment of the next section\ngates:" in text
    loaded = yaml.safe_load(text)
    assert loaded["data"] == {
        "path": "data/b c.csv",
        "target": "target",
        "drop_missing_target": True,
    }
    assert loaded["gates"] == {"max_missing_share": 0.05}
    with pytest.raises(ConfigError, match="no top-level 'behaviour' section"):
        _replace(text, "behaviour", lambda block: block)
