"""A branch's last tracked runs, read back from the tracking store (``make runs``, PR report)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import TrackingError
from .tracking import (
    GATES_WORDS,
    MAIN_METRIC,
    TAG_BRANCH,
    TAG_COMMIT,
    TAG_GATES,
    check_server,
    enabled,
    error_reason,
    mlflow_quiet,
    public_uri,
    store_uri,
)

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class HistoryRow:
    """One past run of a branch, for the history table."""

    started: str
    commit: str
    run_id: str
    value: float | None
    gates: str


def history(
    root: Path, branch: str, task: str, experiment: str, limit: int = 10
) -> list[HistoryRow]:
    """The last ``limit`` runs logged from ``branch`` (newest first), with the main metric.

    Raises:
        TrackingError: the store cannot be read (or tracking is off).
    """
    if not enabled():
        raise TrackingError("experiment tracking is off (experiment_tracking: none)")
    uri = store_uri(root)
    metric = f"test_{MAIN_METRIC[task]}"
    try:
        with mlflow_quiet():
            check_server(uri)
            from mlflow.tracking import MlflowClient

            client = MlflowClient(uri)
            found = client.get_experiment_by_name(experiment)
            if found is None:
                return []
            runs = client.search_runs(
                [found.experiment_id],
                filter_string=f"tags.`{TAG_BRANCH}` = '{_quote(branch)}'",
                max_results=limit,
                order_by=["attributes.start_time DESC"],
            )
    except TrackingError:
        raise
    except Exception as exc:
        raise TrackingError(f"cannot read {public_uri(uri)}: {error_reason(exc)}") from None
    from datetime import datetime, timezone

    return [
        HistoryRow(
            started=datetime.fromtimestamp(r.info.start_time / 1000, timezone.utc).strftime(
                "%Y-%m-%d %H:%M"
            ),
            commit=(r.data.tags.get(TAG_COMMIT) or "")[:7],
            run_id=r.info.run_id,
            value=r.data.metrics.get(metric),
            gates=GATES_WORDS.get(r.data.tags.get(TAG_GATES, ""), "not run"),
        )
        for r in runs
    ]


def history_text(rows: list[HistoryRow], branch: str, task: str) -> str:
    """The history as a text table, oldest last, with each run's change of the main metric."""
    metric = f"test_{MAIN_METRIC[task]}"
    if not rows:
        return f"No tracked runs on {branch!r} yet."
    lines = [f"Last {len(rows)} tracked runs on {branch!r} (newest first):", ""]
    lines.append(f"{'started (UTC)':<17} {'commit':<8} {metric:>12} {'change':>9}  gates   run")
    for i, row in enumerate(rows):
        older = rows[i + 1].value if i + 1 < len(rows) else None
        value = "-" if row.value is None else f"{row.value:.4f}"
        change = "" if row.value is None or older is None else f"{row.value - older:+.4f}"
        lines.append(
            f"{row.started:<17} {row.commit or '-':<8} {value:>12} {change:>9}  "
            f"{row.gates:<7} {row.run_id}"
        )
    return "\n".join(lines)


def _quote(value: str) -> str:
    """A value for MLflow's filter syntax inside single quotes."""
    return value.replace("\\", "\\\\").replace("'", "\\'")
