"""Save the trained pipeline to the BentoML model store and build the bento.

``save_model`` stores ``artifacts/model.joblib`` with the lineage record: the whole record as
metadata (``lineage_json``, JSON text; the service derives its request schema from it) and the
facts one filters on as labels (version, task, data hash, git commit, test metrics).
``build_bento`` then builds the bento from ``bentofile.yaml``; its Python environment is the
``serve`` dependency group of ``pyproject.toml`` at the versions ``uv.lock`` pins (checked
against the versions the model was trained with), so building resolves nothing. ``bento`` saves
and builds, and takes the saved model out of the store again when the build fails.

BentoML is imported inside the functions: it is slow to import and most commands never need it.
Where the store lives is BentoML's ``BENTOML_HOME`` (the Makefile points it at ``bentoml_home/``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..artifacts import sha256_file
from ..errors import ArtifactError
from ..layout import ArtifactLayout
from ..records import Lineage

MODEL_NAME = __name__.split(".")[0]
"""Name of the model (and of the bento) in the BentoML store: the package's import name, known
without configuration both here and inside a bento. The service loads ``MODEL_NAME:latest``."""
LINEAGE_METADATA = "lineage_json"
"""The stored model's metadata key holding its lineage record (JSON text)."""

SERVE_GROUP = "serve"
"""The dependency group of ``pyproject.toml`` that the bento installs: the libraries that
unpickle and run the model."""


#: lineage git.dirty as a label value; anything else (absent, not a bool) is "unknown".
_DIRTY: dict[object, str] = {True: "true", False: "false"}


def model_labels(lineage: Lineage, project_version: str) -> dict[str, str]:
    """Return the BentoML labels (string to string) summarising a lineage record.

    Args:
        lineage: The lineage record written by ``train``.
        project_version: Version of this project's code.

    Returns:
        Labels: version, task, model type, data and model hashes, git commit, test metrics.
    """
    labels = {
        "version": project_version,
        "project": lineage.project,
        "model_name": lineage.model_name,
        "task": lineage.task,
        "model_type": lineage.model.type,
        "model_sha256": lineage.model.sha256,
        "data_sha256": lineage.data.sha256,
        "git_commit": lineage.git.commit or "unknown",
        "git_dirty": _DIRTY.get(lineage.git.dirty, "unknown"),
    }
    for name, value in lineage.metrics.test.items():
        if isinstance(value, (int, float)):
            labels[f"test_{name}"] = f"{value:.4f}"
    return labels


def _project_version() -> str:
    from .. import __version__

    return __version__


def save_model(artifacts_dir: Path, name: str = MODEL_NAME) -> str:
    """Save ``model.joblib`` and its lineage record to the BentoML model store.

    Args:
        artifacts_dir: Directory holding ``model.joblib`` and ``lineage.json`` from ``train``.
        name: Model name in the store.

    Returns:
        The tag of the saved model (``name:version``).

    Raises:
        ArtifactError: If an artifact is missing or unreadable, or the model file does not match
            the hash in the lineage record.
    """
    import bentoml
    import joblib

    layout = ArtifactLayout(artifacts_dir)
    lineage = Lineage.read(layout.lineage, "run `make train` first")
    model_path = layout.model
    if not model_path.is_file():
        msg = f"{model_path} not found: run `make train` first"
        raise ArtifactError(msg)
    expected = lineage.model.sha256
    actual = sha256_file(model_path)
    if expected and expected != actual:
        msg = (
            f"{model_path} does not match the lineage record (sha256 differs): re-run `make train`"
        )
        raise ArtifactError(msg)
    pipeline = joblib.load(model_path)
    metadata = {  # BentoML metadata cannot hold None (JSON null): the record goes in as JSON text
        LINEAGE_METADATA: json.dumps(lineage.to_json(), sort_keys=True),
        "metrics": lineage.metrics.model_dump(mode="json", exclude_unset=True),
        "version": _project_version(),
    }
    saved = bentoml.sklearn.save_model(
        name,
        pipeline,
        signatures={name: {"batchable": True} for name in ("predict", "predict_proba")},
        labels=model_labels(lineage, _project_version()),
        metadata=metadata,
    )
    return str(saved.tag)


def serving_requirements(project: Path, trained_with: Mapping[str, Any] | None = None) -> list[str]:
    """Return the bento's requirements: the ``serve`` group, every package pinned by ``uv.lock``.

    Args:
        project: The project root (``pyproject.toml`` and ``uv.lock``).
        trained_with: The lineage record's ``packages`` (name to version) of the training run.

    Returns:
        Requirement lines ``name==version`` (with an environment marker where the lock has one).

    Raises:
        ArtifactError: If uv is missing or the lock does not match ``pyproject.toml``, or a
            pinned version differs from the one the model was trained with.
    """
    from packaging.requirements import Requirement

    uv = shutil.which("uv")
    if uv is None:
        msg = "uv is not on PATH: run `make bento`, which provides it"
        raise ArtifactError(msg)
    export = [uv, "export", "--locked", "--only-group", SERVE_GROUP, "--no-emit-project"]
    proc = subprocess.run(
        [*export, "--no-hashes", "--no-header", "--no-annotate"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        msg = f"could not export the `{SERVE_GROUP}` group from uv.lock: {detail}"
        raise ArtifactError(msg)
    lines = [line.strip() for line in proc.stdout.splitlines()]
    requirements = [line for line in lines if line and not line.startswith("#")]
    for line in requirements:
        requirement = Requirement(line)
        trained = (trained_with or {}).get(requirement.name)
        applies = requirement.marker is None or requirement.marker.evaluate()
        if applies and trained and not requirement.specifier.contains(trained):
            msg = (
                f"the model was trained with {requirement.name} {trained} but uv.lock pins "
                f"{requirement.specifier}: retrain (`make train`) after `make install`"
            )
            raise ArtifactError(msg)
    return requirements


def build_bento(
    bentofile: Path, build_ctx: Path, project: Path, lineage: Lineage | None = None
) -> str:
    """Build the bento described by ``bentofile`` with the locked serving environment.

    Args:
        bentofile: Path of ``bentofile.yaml``.
        build_ctx: Directory the bentofile's ``include`` patterns are relative to (``src``).
        project: The project root, whose ``uv.lock`` pins the bento's Python packages.
        lineage: The lineage record; its packages are checked and its summary added as labels.

    Returns:
        The tag of the built bento.

    Raises:
        ArtifactError: If the bentofile is missing or the locked environment cannot be exported.
    """
    import bentoml
    import yaml

    if not bentofile.is_file():
        msg = f"{bentofile} not found"
        raise ArtifactError(msg)
    config = yaml.safe_load(bentofile.read_text(encoding="utf-8")) or {}
    packages = serving_requirements(project, lineage.packages if lineage else None)
    config.setdefault("python", {})["packages"] = packages
    if lineage:
        config.setdefault("labels", {}).update(model_labels(lineage, _project_version()))
    with tempfile.TemporaryDirectory(prefix="bentofile-") as tmp:
        effective = Path(tmp) / "bentofile.yaml"
        effective.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        bento = bentoml.bentos.build_bentofile(str(effective), build_ctx=str(build_ctx))
    return str(bento.tag)


def save_and_build(
    artifacts_dir: Path, bentofile: Path, build_ctx: Path, project: Path, lineage: Lineage
) -> tuple[str, str]:
    """Save the model and build the bento; a failed build takes the saved model out again.

    Returns:
        The tags of the saved model and of the built bento.
    """
    import bentoml

    model = save_model(artifacts_dir)
    try:
        bento = build_bento(bentofile, build_ctx, project, lineage)
    except BaseException:
        bentoml.models.delete(model)
        raise
    return model, bento
