"""Lineage: a record of what produced the model (code, data, parameters, environment, result)."""

from __future__ import annotations

import hashlib
import json
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__, distribution_name, git
from ..data.data_version import lineage_record
from ..errors import ArtifactError, DataError
from ..layout import LINEAGE_FILE, ArtifactLayout
from ..records import Lineage, Metrics

if TYPE_CHECKING:
    from ..config import Params
    from ..data import Dataset

#: Distributions whose versions are recorded (those that shape the model and its metrics).
PACKAGES = ("scikit-learn", "pandas", "numpy", "joblib", "matplotlib", "pydantic", "pyyaml")
#: Categorical columns with more distinct values than this are recorded without the list.
MAX_CATEGORIES = 100
#: The params sections that shape the trained model. The other sections (gates, checks,
#: behaviour, monitor) are read by later stages and can change without retraining.
TRAINING_PARAMS = ("task", "seed", "data", "model")


def params_sha256(params: Params) -> str:
    """The fingerprint of the training params (:data:`TRAINING_PARAMS`): canonical JSON, SHA-256.

    Lineage and the gate record (checks.json) both carry it, so that a release can tell that
    they are about the same training run.
    """
    training = {key: params.to_dict().get(key) for key in TRAINING_PARAMS}
    canonical = json.dumps(training, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def package_versions() -> dict[str, str | None]:
    """Versions of Python, this project and the libraries in :data:`PACKAGES`."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    versions[distribution_name()] = __version__
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def _number(value: Any) -> float | None:  # noqa: ANN401 - numpy or Python scalar
    number = float(value)
    return None if number != number else number  # NaN (an all-missing column) -> null


def feature_schema(dataset: Dataset) -> list[dict[str, Any]]:
    """Describe each feature column: kind, dtype, range or categories, missing fraction."""
    frame = dataset.frame
    schema = []
    for name in dataset.features:
        column = frame[name]
        entry: dict[str, Any] = {"name": name, "dtype": str(column.dtype)}
        if name in dataset.numeric:
            entry |= {"kind": "numeric", "min": _number(column.min()), "max": _number(column.max())}
        else:
            categories = sorted(column.dropna().unique().tolist())
            entry |= {"kind": "categorical", "n_categories": len(categories)}
            entry["categories"] = categories if len(categories) <= MAX_CATEGORIES else None
        entry["missing"] = float(column.isna().mean())
        schema.append(entry)
    return schema


def build_lineage(
    *,
    params: Params,
    dataset: Dataset,
    split_rows: tuple[int, int],
    metrics: Metrics,
    model_sha256: str,
    model_path: str,
    started_at: str,
    finished_at: str,
    root: Path,
) -> Lineage:
    """Assemble the lineage record (see the artifact contract for the layout)."""
    project = distribution_name()
    record = {
        "project": project,
        "model_name": project,
        "started_at": started_at,
        "finished_at": finished_at,
        "git": git.state(root),
        "task": params.task,
        "seed": params.seed,
        "params": params.to_dict(),
        "params_sha256": params_sha256(params),
        "data": {
            "path": params.data.path,
            "sha256": dataset.sha256,
            "rows": len(dataset.frame),
            "columns": len(dataset.frame.columns),
            "train_rows": split_rows[0],
            "test_rows": split_rows[1],
            "target": dataset.target,
            "features": feature_schema(dataset),
            "excluded": dataset.excluded,
            "classes": dataset.classes,
            # The DVC version the data's pointer names (None: not tracked): datastore.py.
            "dvc": lineage_record(root, params.data.path),
        },
        "metrics": metrics,
        "packages": package_versions(),
        "model": {"path": model_path, "type": params.model.type, "sha256": model_sha256},
    }
    return Lineage.parse(record, LINEAGE_FILE)


def read_lineage(artifacts_dir: Path) -> str:
    """Return the text of ``lineage.json`` in ``artifacts_dir``.

    Raises:
        ArtifactError: if there is no lineage record (no training run yet).
    """
    path = ArtifactLayout(artifacts_dir).lineage
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArtifactError(f"{path}: not found; run `make train` first") from None


def stale_reasons(params: Params, root: Path, lineage: Lineage) -> list[str]:
    """Return what differs between a lineage record and the current params and data file.

    Params are compared in the form training writes them (``Params.to_dict``), restricted to
    :data:`TRAINING_PARAMS`; the data by the SHA-256 of the file the params point to.
    """
    from ..artifacts import sha256_file
    from ..data import missing_data_hint
    from ..reporting.compare import diff_params

    current = params.to_dict()
    recorded = lineage.params
    changed = diff_params(
        {k: current.get(k) for k in TRAINING_PARAMS},
        {k: recorded.get(k) for k in TRAINING_PARAMS},
    )
    reasons = []
    if changed:
        keys = [c.key for c in changed]
        more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
        reasons.append(f"params {', '.join(keys[:3])}{more}")
    data_path = root / params.data.path
    if not data_path.is_file():
        raise DataError(f"{params.data.path}: file not found; {missing_data_hint(params, root)}")
    if sha256_file(data_path) != lineage.data.sha256:
        reasons.append(f"data {params.data.path}")
    return reasons


def ensure_current(params: Params, root: Path, artifacts_dir: Path) -> Lineage:
    """Return the lineage record; refuse artifacts trained with other params or data.

    The one staleness guard of every command that consumes a trained model (check, bento,
    report, monitor, release register).

    Raises:
        ArtifactError: there is no lineage record, the model file is not the one it records,
            or it was written for other training params or another data file than the current
            ones.
    """
    from ..artifacts import display_path, sha256_file

    layout = ArtifactLayout(artifacts_dir)
    lineage = Lineage.read(layout.lineage, "run `make train` first")
    model = layout.model
    if not model.is_file():
        raise ArtifactError(f"{display_path(model, root)}: not found; run `make train`")
    if sha256_file(model) != lineage.model.sha256:
        raise ArtifactError(
            f"{display_path(model, root)} is not the model {LINEAGE_FILE} records "
            "(replaced after training): run `make train`"
        )
    reasons = stale_reasons(params, root, lineage)
    if reasons:
        raise ArtifactError(
            f"{display_path(artifacts_dir, root)}/ were trained with other params or data "
            f"({'; '.join(reasons)} changed): run `make train`"
        )
    return lineage
