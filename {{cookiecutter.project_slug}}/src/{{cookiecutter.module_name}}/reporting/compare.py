"""Compare a run with the base branch's run: metric changes by direction, changed parameters.

A change is called better or worse only beyond the noise of the test set: when the PR's
bootstrap interval of a metric (:mod:`.diagnostics`) holds the base's value, the verdict is
:data:`NOISE`.

Pure functions on plain mappings (the contents of ``metrics.json`` and ``lineage.json``), so the
report and its tests share one definition of "better".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: Metrics where a larger value is better.
HIGHER_IS_BETTER = frozenset(
    {"accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "r2"}
)
#: Metrics where a smaller value is better (errors and losses).
LOWER_IS_BETTER = frozenset({"rmse", "mae", "mse", "mape", "log_loss", "brier"})

BETTER = "better"
WORSE = "worse"
UNCHANGED = "unchanged"
NEW = "new"  # the base run has no such metric
REMOVED = "removed"  # the PR run no longer has the metric
UNKNOWN = "n/a"  # no direction known, or a value that is not a finite number
NOISE = "within noise"  # the base's value lies inside the PR's bootstrap interval

#: Relative tolerance under which two values count as equal (float noise, not a change).
REL_TOL = 1e-9
ABS_TOL = 1e-12


class _Missing:
    """Marker for a parameter that one side does not have (distinct from ``None``/null)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def direction(metric: str) -> str | None:
    """Return ``"higher"`` or ``"lower"`` (which way is better) or None if unknown."""
    if metric in HIGHER_IS_BETTER:
        return "higher"
    if metric in LOWER_IS_BETTER:
        return "lower"
    return None


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class MetricChange:
    """One metric of the PR run next to the base run's value."""

    name: str
    pr: float | None
    base: float | None
    delta: float | None
    verdict: str


def compare_metric(
    name: str,
    pr: float | None,
    base: float | None,
    interval: tuple[float, float] | None = None,
) -> MetricChange:
    """Compare one metric value with the base value, according to the metric's direction.

    ``delta`` is ``pr - base`` (None when either side is missing or not finite). Values equal
    within :data:`REL_TOL` / :data:`ABS_TOL` are ``unchanged`` whatever the direction; a base
    value inside ``interval`` (the PR's bootstrap interval, low and high) is :data:`NOISE`.
    """
    if pr is None and base is None:
        return MetricChange(name, None, None, None, UNKNOWN)
    if base is None:
        return MetricChange(name, pr, None, None, NEW)
    if pr is None:
        return MetricChange(name, None, base, None, REMOVED)
    if not (_finite(pr) and _finite(base)):
        return MetricChange(name, pr, base, None, UNKNOWN)
    delta = float(pr) - float(base)
    if math.isclose(pr, base, rel_tol=REL_TOL, abs_tol=ABS_TOL):
        return MetricChange(name, pr, base, delta, UNCHANGED)
    way = direction(name)
    if way is None:
        return MetricChange(name, pr, base, delta, UNKNOWN)
    if interval is not None and interval[0] <= base <= interval[1]:
        return MetricChange(name, pr, base, delta, NOISE)
    improved = pr > base if way == "higher" else pr < base
    return MetricChange(name, pr, base, delta, BETTER if improved else WORSE)


def compare_metrics(
    pr: Mapping[str, float],
    base: Mapping[str, float] | None,
    intervals: Mapping[str, tuple[float, float]] | None = None,
) -> list[MetricChange]:
    """Compare every metric of one split; PR metrics first (in their order), then removed ones.

    ``intervals``: the PR's bootstrap interval of each metric, where known (see
    :func:`compare_metric`).
    """
    base = base or {}
    intervals = intervals or {}
    names = list(pr) + [name for name in base if name not in pr]
    return [
        compare_metric(name, pr.get(name), base.get(name), intervals.get(name)) for name in names
    ]


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings into dotted keys: ``{"model": {"type": x}} -> {"model.type": x}``.

    Empty mappings are kept as values (so that ``gates: {}`` still shows up); lists are values.
    """
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


@dataclass(frozen=True)
class ParamChange:
    """A parameter whose value differs between the base and the PR (:data:`MISSING` if absent)."""

    key: str
    base: Any
    pr: Any


def diff_params(pr: Mapping[str, Any], base: Mapping[str, Any]) -> list[ParamChange]:
    """Return the parameters (dotted keys, sorted) whose values differ between base and PR."""
    flat_pr, flat_base = flatten(pr), flatten(base)
    keys: Iterable[str] = sorted(set(flat_pr) | set(flat_base))
    return [
        ParamChange(key, flat_base.get(key, MISSING), flat_pr.get(key, MISSING))
        for key in keys
        if flat_pr.get(key, MISSING) != flat_base.get(key, MISSING)
    ]
