"""Onboarding a team's own data in one step: ``make adopt DATA=path TARGET=column [TASK=...]``.

What it does, in an order that leaves nothing half-done (a failure before the last step changes
neither params.yaml nor artifacts/):

1. reads and validates the file with the training rules (:mod:`.dataset`), infers the task when not
   given (a numeric target with more than :data:`MAX_CLASSES` distinct values is regression);
2. trains once and runs every gate's check in a temporary folder, with every applicable gate on
   and permissive, to *measure* the values on this data;
3. starts DVC tracking of the file (:func:`.datastore.track`) and pushes it to the remote;
4. rewrites params.yaml in place, comments kept: ``task``, the ``data`` keys, ``model`` (the
   task's default when the task changes), ``gates`` (each threshold the measured value moved by
   :data:`GATE_MARGIN`, at least :data:`GATE_SLACK`, in the passing direction) and
   ``behaviour`` (the sample's entries named its features: disabled, with a note);
5. trains for real into artifacts/ and prints every change.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..artifacts import ensure_inside
from ..config import GateThresholds, Params, data_folders, load_params, parse_params
from ..errors import ConfigError, DataError
from ..progress import Progress
from ..quality.gates import GATES, direction

if TYPE_CHECKING:
    import pandas as pd

#: A numeric target with more distinct values than this is a regression target.
MAX_CLASSES = 20
#: Gate thresholds are the measured value moved by this share of it in the passing direction...
GATE_MARGIN = 0.05
#: ... and by at least this much (a measured 0 share becomes a 0.01 limit).
GATE_SLACK = 0.01
#: The estimator a task gets when adopt changes the task (params.yaml's defaults per task).
DEFAULT_MODELS: dict[str, dict[str, Any]] = {
    "classification": {"type": "logistic_regression", "params": {"C": 1.0, "max_iter": 1000}},
    "regression": {"type": "ridge", "params": {"alpha": 1.0}},
}
#: Permissive limits for the measuring run: every applicable gate runs and passes.
_OPEN = {"min": -1e12, "max": 1e12}


@dataclass(frozen=True)
class Adoption:
    """What adopt changed: one line per change, and the params it wrote."""

    changes: list[str]
    params: Params


def infer_task(frame: pd.DataFrame, target: str) -> tuple[str, str]:
    """Return ``(task, why)`` for the target column of ``frame``."""
    import pandas as pd

    values = frame[target].dropna()
    numbers = pd.to_numeric(values, errors="coerce")
    distinct = values.nunique()
    if len(values) and numbers.notna().all() and distinct > MAX_CLASSES:
        return "regression", f"numeric target with {distinct} distinct values"
    return "classification", f"target with {distinct} distinct values"


def threshold(name: str, value: float) -> float:
    """The gate threshold adopt sets for a measured value (see :data:`GATE_MARGIN`)."""
    margin = max(GATE_MARGIN * abs(value), GATE_SLACK)
    if direction(name) == "min":
        limit = math.floor((value - margin) * 10_000) / 10_000
    else:
        limit = math.ceil((value + margin) * 10_000) / 10_000
    # Held inside the gate's bounds: a negative train-test gap still gets a limit >= 0.
    clipped = _clip(name, limit)
    assert clipped is not None  # a number in, a number out
    return clipped


def _yaml(value: Any) -> str:  # noqa: ANN401 - a YAML scalar or list
    return "null" if value is None else json.dumps(value)  # JSON scalars and lists are YAML


def _block(text: str, key: str) -> tuple[int, int]:
    """Character span of a top-level ``key:`` block, without the comments before the next key."""
    match = re.search(rf"^{re.escape(key)}:.*$", text, flags=re.MULTILINE)
    if match is None:
        raise ConfigError(f"params.yaml: no top-level {key!r} section to update")
    end = match.end()
    for line in re.finditer(r"^.*$\n?", text[match.end() :], flags=re.MULTILINE):
        body = line.group().strip()
        if line.group()[:1] not in (" ", "\t", "#", "\n", ""):
            break
        if body and not body.startswith("#"):
            end = match.end() + line.end()
    return match.start(), end


def _set_key(block: str, key: str, value: Any) -> str:  # noqa: ANN401 - a YAML value
    """Set ``  key: value`` in a section (comments kept; appended when absent)."""
    line = f"  {key}: {_yaml(value)}"
    pattern = rf"^  {re.escape(key)}:.*$"
    if re.search(pattern, block, flags=re.MULTILINE):
        return re.sub(pattern, lambda _: line, block, count=1, flags=re.MULTILINE)
    return block.rstrip("\n") + "\n" + line + "\n"


def _replace(text: str, key: str, edit: Callable[[str], str]) -> str:
    start, end = _block(text, key)
    return text[:start] + edit(text[start:end]) + text[end:]


def _without_schema(progress: Progress) -> Progress:
    """Progress that leaves out the schema lines (adopt prints the schema once, first)."""

    def emit(message: str) -> None:
        if not message.startswith("schema: "):
            progress(message)

    return emit


def _measure(params: Params, root: Path, progress: Progress) -> dict[str, float | None]:
    """Train and run the checks in a temporary folder with every applicable gate open."""
    from ..pipeline.train import run_training
    from ..quality.checks import run_project_checks

    gates = {
        name: _OPEN[direction(name)] if spec.task in (None, params.task) else None
        for name, spec in GATES.items()
    }
    gates = {name: _clip(name, value) for name, value in gates.items()}
    open_params = params.model_copy(update={"gates": GateThresholds(**gates)})
    with tempfile.TemporaryDirectory(prefix=".adopt-", dir=root) as scratch:
        run_training(open_params, root, Path(scratch), progress=_without_schema(progress))
        result = run_project_checks(open_params, root, Path(scratch), progress=progress)
    measured: dict[str, float | None] = {}
    for name, spec in GATES.items():
        if spec.task not in (None, params.task):
            continue
        gate = result.gate(name)
        measured[name] = None if gate is None or gate.value is None else float(gate.value)
    return measured


def _clip(name: str, value: float | None) -> float | None:
    """A limit held inside the gate's own bounds (shares are 0..1)."""
    if value is None:
        return None
    field = GateThresholds.model_fields[name]
    for rule in field.metadata:
        if getattr(rule, "ge", None) is not None:
            value = max(value, rule.ge)
        if getattr(rule, "le", None) is not None:
            value = min(value, rule.le)
    return value


def _gates_block(
    params: Params, measured: dict[str, float | None], data_path: str
) -> tuple[str, dict[str, float | None], list[str]]:
    defaults = GateThresholds()
    lines = [
        "gates:",
        f"  # Set by `make adopt` from its first run on {data_path}: each threshold is the",
        f"  # measured value moved by {GATE_MARGIN:.0%} of it (at least {GATE_SLACK}) in the "
        "passing direction.",
    ]
    values: dict[str, float | None] = {}
    changes = []
    for name, value in measured.items():
        if value is None:  # nothing to measure here (e.g. no categorical feature): the default
            values[name] = getattr(defaults, name)
            lines.append(f"  {name}: {_yaml(values[name])}  # not measurable on this data")
            continue
        values[name] = threshold(name, value)
        lines.append(f"  {name}: {_yaml(values[name])}  # measured {value:.4g}")
        before = getattr(params.gates, name)
        if before != values[name]:
            changes.append(
                f"gates.{name}: {_yaml(before)} -> {_yaml(values[name])} (measured {value:.4g})"
            )
    return "\n".join(lines) + "\n", values, changes


BEHAVIOUR_NOTE = """behaviour:
  # Disabled by `make adopt`: the entries were written for the bundled sample's features.
  # Add invariant_features, directional and examples for your data (README "Behavioural
  # tests"); tests/model runs them.
  invariant_features: []
  directional: []
  examples: []
"""


def adopt(
    root: Path,
    data_path: str,
    target: str,
    task: str | None = None,
    params_path: Path | None = None,
    progress: Progress = print,
) -> Adoption:
    """Make ``data_path`` the project's data (see the module docstring for the steps).

    Raises:
        DataError: if the file is missing, outside the project or fails validation.
        ConfigError: if params.yaml cannot be updated (nothing is written then).
    """
    from ..artifacts import atomic_write_text
    from ..pipeline.train import run_training
    from . import datastore
    from .csvfile import read_csv
    from .dataset import validate_frame

    params_path = params_path or root / "params.yaml"
    current = load_params(params_path)
    ensure_inside(root / data_path, data_folders(current, root), f"DATA {data_path!r}")
    frame = read_csv(root / data_path, data_path)
    if target not in frame.columns:
        from .values import did_you_mean

        columns = [str(c) for c in frame.columns]
        raise DataError(
            f"{data_path}: target column {target!r} (TARGET) not found"
            f"{did_you_mean(target, columns)}; columns are: {', '.join(columns)}"
        )
    changes: list[str] = []
    if task is None:
        task, why = infer_task(frame, target)
        progress(f"task: {task} ({why}; TASK=classification|regression overrides)")
    missing = int(frame[target].isna().sum())
    # What params.yaml sets, not every default: a dump of all gates would name the other
    # task's gates, which validation refuses.
    raw = current.model_dump(mode="json", exclude_unset=True)
    raw["task"] = task
    if task != current.task:
        raw["model"] = DEFAULT_MODELS[task]
        raw["gates"] = {}
    new_data: dict[str, object] = {
        "path": data_path,
        "target": target,
        "numeric_features": None,
        "categorical_features": None,
        "exclude": [],
        "drop_missing_target": missing > 0,
    }
    raw["data"] = {**raw["data"], **new_data}
    raw["behaviour"] = {}
    if missing:
        progress(f"{missing} row(s) have no {target!r}: data.drop_missing_target: true drops them")
    params = parse_params(raw)
    dataset = validate_frame(frame, params, data_path)
    for line in dataset.schema_lines():
        progress(f"schema: {line}")
    progress("measuring the gates on a first run (temporary folder)")
    measured = _measure(params, root, progress)

    text = params_path.read_text(encoding="utf-8")
    before = current.to_dict()
    if task != current.task:
        text = re.sub(r"^task:.*$", f"task: {task}", text, count=1, flags=re.MULTILINE)
        changes.append(f"task: {current.task} -> {task}")
        model = DEFAULT_MODELS[task]
        text = _replace(
            text,
            "model",
            lambda _: f"model:\n  type: {model['type']}\n  params: {_yaml(model['params'])}\n",
        )
        changes.append(f"model: {current.model.type} -> {model['type']} (the {task} default)")

    def edit_data(block: str) -> str:
        for key, value in new_data.items():
            block = _set_key(block, key, value)
        return block

    text = _replace(text, "data", edit_data)
    for key, value in new_data.items():
        if before["data"].get(key) != value:
            changes.append(f"data.{key}: {_yaml(before['data'].get(key))} -> {_yaml(value)}")
    gates_text, gate_values, gate_changes = _gates_block(current, measured, data_path)
    text = _replace(text, "gates", lambda _: gates_text)
    changes += gate_changes
    text = _replace(text, "behaviour", lambda _: BEHAVIOUR_NOTE)
    changes.append("behaviour: the sample's invariance, directional and example tests disabled")

    import yaml

    # The edited text must read back as exactly the intended values, or nothing is written.
    written = parse_params(yaml.safe_load(text), str(params_path))
    intended = parse_params({**raw, "gates": gate_values}).to_dict()
    for section in ("task", "model", "data", "gates"):
        if written.to_dict()[section] != intended[section]:
            raise ConfigError(
                f"{params_path}: {section}: could not be updated in place; set it by hand to "
                f"{json.dumps(intended[section])}"
            )
    version = datastore.track(root, data_path)
    changes.append(f"DVC: tracking {data_path} (version {version.md5[:12]}): {version.pointer}")
    try:
        datastore.push(root, data_path)
        changes.append("DVC: pushed the data to the remote")
    except DataError as exc:  # tracked all the same; the push can be repeated
        changes.append(f"DVC: not pushed ({exc}); `make push` once the remote works")
    atomic_write_text(params_path, text)
    progress(f"wrote {params_path.name}")
    run_training(written, root, progress=_without_schema(progress))
    return Adoption(changes, written)
