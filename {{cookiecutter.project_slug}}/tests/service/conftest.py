"""Fixtures of the service tests: the trained model saved into a temporary BentoML store.

The model and lineage record are the real ``artifacts/`` written by ``make train`` (``make test``
and ``make test-service`` train first). The BentoML store is a fresh temporary directory, so the
tests never read or write ``bentoml_home/`` or ``~/bentoml``.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import joblib
import pytest
from live import PACKAGE, ROOT, Server, serving  # tests/service/live.py

from {{ cookiecutter.module_name }}.serving import bento

ARTIFACTS = ROOT / "artifacts"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    for name in ("model.joblib", "lineage.json"):
        if not (ARTIFACTS / name).is_file():
            pytest.fail(f"{ARTIFACTS / name} is missing: run `make train` (make test does)")
    return ARTIFACTS


@pytest.fixture(scope="session")
def lineage(artifacts_dir: Path) -> dict[str, Any]:
    lineage: dict[str, Any] = json.loads(
        (artifacts_dir / "lineage.json").read_text(encoding="utf-8")
    )
    return lineage


@pytest.fixture(scope="session")
def pipeline(artifacts_dir: Path) -> Any:
    return joblib.load(artifacts_dir / "model.joblib")


@pytest.fixture(scope="session")
def bentoml_home(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[Path]:
    """A temporary BENTOML_HOME holding the trained model, saved the way `make bento` does."""
    home = tmp_path_factory.mktemp("bentoml_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BENTOML_HOME", str(home))
        patch.setenv("BENTOML_DO_NOT_TRACK", "true")
        patch.delenv("MODEL_TAG", raising=False)
        tag = bento.save_model(artifacts_dir)
        if not (home / "models" / tag.split(":")[0]).is_dir():  # BentoML reads the variable once
            pytest.fail("BentoML's store was set up before BENTOML_HOME pointed to a temp dir")
        yield home


@pytest.fixture(scope="session")
def service(bentoml_home: Path) -> ModuleType:
    """The service module, imported once the store holds the model (it reads it at import)."""
    return importlib.import_module(f"{PACKAGE}.serving.service")


@pytest.fixture(scope="session")
def predictor(service: ModuleType) -> Any:
    return service.Predictor()


@pytest.fixture(scope="session")
def client(service: ModuleType) -> Iterator[Any]:
    """An HTTP client of the service's ASGI app, in process (no socket)."""
    from starlette.testclient import TestClient

    with TestClient(service.Predictor.to_asgi(), raise_server_exceptions=False) as http:
        yield http


@pytest.fixture(scope="session")
def server_env(bentoml_home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(BENTOML_HOME=str(bentoml_home), BENTOML_DO_NOT_TRACK="true")
    env.pop("MODEL_TAG", None)
    return env


@pytest.fixture(scope="module")
def server(
    server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One real server per test module that asks for it."""
    with serving(server_env, tmp_path_factory.mktemp("serve") / "serve.log") as running:
        yield running
