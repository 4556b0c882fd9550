"""Shared helpers for the template's tests: bake projects and run their commands for real."""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
PROJECT_TEMPLATE = TEMPLATE / "{{cookiecutter.project_slug}}"
CONTEXT = json.loads((TEMPLATE / "cookiecutter.json").read_text())
#: What a bare machine has: python3, git and make, and no uv (baked projects bootstrap their own).
BARE_PATH = "/usr/bin:/bin"


#: Test modules, slowest first. `make test` runs each module whole on one worker
#: (`--dist loadscope`) and the suite ends when the last one does: the long ones start first.
SLOWEST_FIRST = (
    "test_e2e.py",
    "test_workflows.py",
    "test_gates.py",
    "test_monitor.py",
    "test_data_versioning.py",
    "test_bake.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order the modules slowest first (a stable sort: tests keep their order in a module)."""
    rank = {name: position for position, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def uv_executable() -> str:
    """Return the template's uv: the one on PATH, else the one `make install` bootstrapped."""
    return shutil.which("uv") or str(TEMPLATE / ".tools" / "bin" / "uv")


def bare_env() -> dict[str, str]:
    """Return this process's environment with PATH cut down to a bare machine's."""
    return {**os.environ, "PATH": BARE_PATH}


#: npm packages the tests run with node, each set in a folder of its own under .tools/node.
NODE_TOOLS = TEMPLATE / ".tools" / "node"


def node_packages(packages: tuple[tuple[str, str], ...]) -> Path:
    """Install the pinned npm ``(name, version)`` packages once; return their node_modules."""
    prefix = NODE_TOOLS / "-".join(name.replace("/", "_") for name, _ in packages)
    modules = prefix / "node_modules"

    def installed(name: str) -> str | None:
        manifest = modules / name / "package.json"
        return json.loads(manifest.read_text())["version"] if manifest.is_file() else None

    if any(installed(name) != version for name, version in packages):
        npm = shutil.which("npm")
        assert npm, "node is installed but npm is not: install npm to fetch the node tools"
        options = ["--no-save", "--no-package-lock", "--no-audit", "--no-fund"]
        pins = [f"{name}@{version}" for name, version in packages]
        subprocess.run(
            [npm, "install", "--prefix", str(prefix), *options, *pins],
            check=True,
            capture_output=True,
        )
    return modules


def choices(name: str) -> list[str]:
    """Return the choices of a choice variable in cookiecutter.json (first is the default)."""
    return list(CONTEXT[name])


# Options that change the set of generated files: baked as a full product.
FILESET_OPTIONS = ("license", "deploy_target")
# Options that change file contents (experiment_tracking: one test file too) are cycled through
# the product instead of multiplied.
CYCLED_OPTIONS = ("task", "python_version", "report_images", "experiment_tracking")


def option_matrix() -> list[dict[str, str]]:
    """Return the combinations to bake: the product of file-set options, the rest cycled.

    Each cycled option takes every value in turn, in an order shuffled with a fixed seed, so that
    its values do not line up with a file-set option that has as many choices.
    """
    product = list(itertools.product(*(choices(o) for o in FILESET_OPTIONS)))
    rng = random.Random(len(product))
    combos = [dict(zip(FILESET_OPTIONS, values, strict=True)) for values in product]
    for option in CYCLED_OPTIONS:
        values = [choices(option)[i % len(choices(option))] for i in range(len(product))]
        rng.shuffle(values)
        for combo, value in zip(combos, values, strict=True):
            combo[option] = value
    return combos


def combo_id(combo: dict[str, str]) -> str:
    """Return a readable test id for a combination."""
    return "-".join(str(v) for v in combo.values())


@dataclass
class Baked:
    """A baked project and the answers it was baked with."""

    path: Path
    context: dict[str, object] = field(default_factory=dict)

    @property
    def files(self) -> set[str]:
        """Every file of the project (relative paths), git internals excluded."""
        return {
            p.relative_to(self.path).as_posix()
            for p in self.path.rglob("*")
            if p.is_file() and ".git" not in p.relative_to(self.path).parts
        }

    def run(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 900,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess:
        """Run a command in the project and return the completed process (output captured)."""
        result = subprocess.run(
            args,
            cwd=self.path,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"{' '.join(args)} exited {result.returncode} in {self.path}\n"
                f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
            )
        return result


def bake(output_dir: Path, **extra: object) -> Baked:
    """Bake the template with ``extra`` answers into ``output_dir`` and return the project."""
    extra.setdefault("git_init", False)
    path = cookiecutter(
        str(TEMPLATE),
        no_input=True,
        extra_context=extra,
        output_dir=str(output_dir),
    )
    answers = json.loads((Path(path) / ".cruft.json").read_text())["context"]["cookiecutter"]
    return Baked(Path(path), answers)


@pytest.fixture(autouse=True, scope="session")
def _hermetic_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Give git an identity and keep tool caches out of the user's home, for every test."""
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / "gitconfig"
    gitconfig.write_text("[user]\n\tname = Template Tests\n\temail = tests@example.com\n")
    saved = dict(os.environ)
    os.environ.update(
        {
            "GIT_CONFIG_GLOBAL": str(gitconfig),
            "GIT_CONFIG_NOSYSTEM": "1",
            "PRE_COMMIT_HOME": str(home / "pre-commit"),
            "MPLCONFIGDIR": str(home / "matplotlib"),
            "BENTOML_HOME": str(home / "bentoml"),
            "DISABLE_DEEPCHECKS_ANONYMOUS_TELEMETRY": "1",
            "BENTOML_DO_NOT_TRACK": "true",
            "ITERATIVE_DO_NOT_TRACK": "true",
        }
    )
    # Baked projects run their own make targets; outer CI settings must not leak into them.
    # PYTHONDONTWRITEBYTECODE would make every command of a baked project recompile its stack.
    for name in (
        "VIRTUAL_ENV",
        "UV_PROJECT_ENVIRONMENT",
        "MAKEFLAGS",
        "MAKELEVEL",
        "PYTHONDONTWRITEBYTECODE",
    ):
        os.environ.pop(name, None)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def matrix_bakes(tmp_path_factory: pytest.TempPathFactory) -> list[Baked]:
    """Every combination of the option matrix, baked once per session."""
    root = tmp_path_factory.mktemp("matrix")
    return [bake(root / combo_id(c), **c) for c in option_matrix()]


#: mermaid's own parser (what GitHub renders the comment's charts with) and jsdom, which gives
#: mermaid's sanitizer the DOM it needs under node.
MERMAID_PACKAGES = (("mermaid", "11.12.2"), ("jsdom", "26.1.0"))


def mermaid_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```mermaid\n(.*?)^```$", markdown, re.M | re.S)


def parse_mermaid(diagrams: list[str]) -> list[dict[str, object]]:
    """Parse each diagram with mermaid (npm, pinned); return [{ok, type | error}]."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the Mermaid parser (npm package `mermaid`) needs it")
    modules = node_packages(MERMAID_PACKAGES)
    script = Path(__file__).with_name("mermaid_parse.mjs")
    result = subprocess.run(
        [node, str(script), str(modules)],
        input=json.dumps(diagrams),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
