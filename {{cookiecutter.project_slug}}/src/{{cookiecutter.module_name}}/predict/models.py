"""The model a batch is scored with: the last run's, or the one a stage runs (GTO)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ArtifactError
from ..layout import ArtifactLayout

if TYPE_CHECKING:
    from ..config import Params
    from ..release.registry import Version


@dataclass(frozen=True)
class Model:
    """A fitted pipeline with the lineage record it was trained under, and where it came from."""

    pipeline: Any
    lineage: dict[str, Any]
    source: str

    @property
    def features(self) -> list[dict[str, Any]]:
        """The feature schema the service derives its request schema from."""
        return list(self.lineage["data"]["features"])

    @property
    def task(self) -> str:
        """``classification`` or ``regression``."""
        return str(self.lineage["task"])


def load_last_run(params: Params, root: Path, artifacts: Path) -> Model:
    """The model of the last training run (refused when stale, as every consumer does)."""
    import joblib

    from ..pipeline.lineage import ensure_current

    lineage = ensure_current(params, root, artifacts)
    model = joblib.load(ArtifactLayout(artifacts).model)
    return Model(model, lineage.to_json(), f"the last run ({artifacts.name}/)")


def stage_version(stage: str, root: Path) -> Version:
    """The registered version GTO assigned to ``stage`` (release.py reads the tags).

    Raises:
        ReleaseError: the stage is unknown or has no version assigned.
    """
    from ..errors import ReleaseError
    from ..release.guards import ensure_stage
    from ..release.registry import read_state

    ensure_stage(root, stage)
    state = read_state(root)
    assignment = state.current(stage)
    if assignment is None:
        raise ReleaseError(
            f"no version is assigned to {stage} (make promote VERSION=... STAGE=...)"
        )
    return state.versions[assignment.version]


def load_stage(stage: str, root: Path, artifacts: Path) -> Model:
    """The model GTO says runs in ``stage``: its registration's model sha256, found locally.

    The registered model is looked for in ``artifacts/`` (the last run) and in the BentoML
    store (``make bento``), by the sha256 the registration tag recorded.

    Raises:
        ReleaseError: the stage is unknown or has no version assigned.
        ArtifactError: no local model has the registered sha256 (the message says how to get it).
    """
    import joblib

    from ..artifacts import read_json, sha256_file
    from ..errors import ReleaseError

    version = stage_version(stage, root)
    wanted = version.fields.get("model-sha256")
    if not wanted:
        raise ReleaseError(f"{version.tag} records no model-sha256: register it again")
    source = f"{stage}: {version.version} ({version.tag})"
    layout = ArtifactLayout(artifacts)
    model_file = layout.model
    if model_file.is_file() and sha256_file(model_file) == wanted:
        lineage = read_json(layout.lineage, "run `make train` first")
        return Model(joblib.load(model_file), lineage, source)
    stored = _bentoml_model(wanted)
    if stored is not None:
        return Model(stored[0], stored[1], f"{source}, BentoML store")
    raise ArtifactError(
        f"{stage} runs {version.version}, whose model (sha256 {wanted[:12]}) is neither "
        f"{model_file.name} in {artifacts} nor in the BentoML store: check out {version.tag} and "
        "run `make train` (training is reproducible) or `make bento` there"
    )


def _bentoml_model(sha256: str) -> tuple[Any, dict[str, Any]] | None:
    """The pipeline and lineage of the stored BentoML model whose label model_sha256 matches."""
    import json

    import bentoml

    from ..serving.bento import LINEAGE_METADATA, MODEL_NAME

    try:
        candidates = bentoml.models.list(MODEL_NAME)
    except bentoml.exceptions.NotFound:
        return None
    for stored in candidates:
        if stored.info.labels.get("model_sha256") == sha256:
            lineage = json.loads(str(stored.info.metadata[LINEAGE_METADATA]))
            return bentoml.sklearn.load_model(stored.tag), lineage
    return None
