"""The gates' result, and ``checks.json``: whether it is still the record of this model and data."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ArtifactError
from ..layout import CHECKS_HTML, CHECKS_JSON, ArtifactLayout
from ..records import ChecksRecord, Lineage
from .gates import Gate, verdict_table

if TYPE_CHECKING:
    from ..config import Params


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
    from ..artifacts import sha256_file

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
        ArtifactError: the model is not current (see :func:`~..pipeline.lineage.ensure_current`).
    """
    from ..pipeline.lineage import ensure_current

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
    (the current run: callers check it with :func:`~..pipeline.lineage.ensure_current`), the
    thresholds of ``params``, and the hash of the checks.html beside it; and every gate must have
    passed.

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
