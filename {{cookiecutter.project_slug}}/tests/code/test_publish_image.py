"""Publishing the image: pushed by buildx with an SBOM and build provenance, recorded by digest.

Docker is not needed here: the command is checked in a dry run, and the digest is read from a
metadata file shaped like the one `docker buildx build --metadata-file` writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from {{ cookiecutter.module_name }}.errors import ReleaseError
from {{ cookiecutter.module_name }}.layout import ArtifactLayout
from {{ cookiecutter.module_name }}.release import deploy

pytestmark = pytest.mark.code

DIGEST = "sha256:" + "ab" * 32


def test_the_image_is_pushed_with_its_sbom_and_provenance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = deploy.publish_image(tmp_path, "ghcr.io/Acme/Model", "0123abc", "model:1", dry_run=True)
    assert ref.startswith("ghcr.io/acme/model@sha256:")
    (printed,) = capsys.readouterr().err.splitlines()
    command = printed.removeprefix("+ ").split()
    assert command[:3] == ["bentoml", "containerize", "model:1"]
    assert command[command.index("--image-tag") + 1] == "ghcr.io/acme/model:0123abc"
    options = [command[i + 1] for i, word in enumerate(command) if word == "--opt"]
    assert command[command.index("--backend") + 1] == "buildx"
    assert {"push", "sbom=true", "provenance=mode=max"} <= set(options)
    metadata = ArtifactLayout.of(tmp_path.resolve()).image_build
    assert f"metadata-file={metadata}" in options


def test_the_digest_comes_from_the_build_metadata(tmp_path: Path) -> None:
    metadata = tmp_path / "image-build.json"
    metadata.write_text(json.dumps({"containerimage.digest": DIGEST, "image.name": "x"}))
    assert deploy.pushed_digest(metadata) == DIGEST


@pytest.mark.parametrize(
    "content", [None, "not json", "[]", "{}", json.dumps({"containerimage.digest": "sha256:12"})]
)
def test_no_digest_no_record(tmp_path: Path, content: str | None) -> None:
    metadata = tmp_path / "image-build.json"
    if content is not None:
        metadata.write_text(content)
    with pytest.raises(ReleaseError, match=r"image-build\.json: no"):
        deploy.pushed_digest(metadata)
