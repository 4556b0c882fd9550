"""The hooks: answer validation (pre-gen) and finishing steps (post-gen), unit and end to end."""

from __future__ import annotations

import importlib.util
import json
import keyword
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from cookiecutter.exceptions import FailedHookException
from cookiecutter.generate import generate_context
from cookiecutter.main import cookiecutter
from cookiecutter.prompt import prompt_for_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TEMPLATE, bake


def load_hook(name: str) -> ModuleType:
    """Import a hook script as a module (its Jinja only sits under the __main__ guard)."""
    spec = importlib.util.spec_from_file_location(name, TEMPLATE / "hooks" / f"{name}.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pre_gen = load_hook("pre_gen_project")
post_gen = load_hook("post_gen_project")


def derived_answers(**overrides: object) -> dict[str, object]:
    """Resolve the answers exactly as `cookiecutter --no-input` would, derived names included."""
    context = generate_context(str(TEMPLATE / "cookiecutter.json"), extra_context=overrides)
    return prompt_for_config(context, no_input=True)


# (answer overrides, the message the hook must print)
INVALID_ANSWERS = [
    ({"project_slug": "My Project"}, "project_slug 'My Project': use lowercase letters"),
    ({"project_slug": "9lives"}, "project_slug '9lives': use lowercase letters"),
    ({"project_slug": "double--dash"}, "project_slug 'double--dash'"),
    ({"project_slug": "a/b"}, "project_slug 'a/b': use lowercase letters"),  # left `a` before
    ({"project_slug": "../x"}, "project_slug '../x'"),
    ({"module_name": "my-module"}, "module_name 'my-module': use lowercase letters"),
    ({"module_name": "class"}, "module_name 'class': is a Python keyword"),
    ({"module_name": "json"}, "module_name 'json': shadows the standard library"),
    ({"module_name": "sklearn"}, "module_name 'sklearn': shadows the import name of a dependency"),
    ({"module_name": "pandas"}, "module_name 'pandas': shadows the import name of a dependency"),
    ({"module_name": "test"}, "module_name 'test': shadows the import name"),
    ({"project_name": "Tests"}, "module_name 'tests': shadows the import name"),
    ({"author_email": "not-an-email"}, "author_email 'not-an-email': expected an address"),
    ({"author_email": "a@b"}, "author_email 'a@b': expected an address"),
    ({"github_owner": "-bad-"}, "github_owner '-bad-': 1-39 letters"),
    ({"github_owner": "a" * 40}, "github_owner"),
    ({"github_owner": "two words"}, "github_owner 'two words'"),
    ({"author_email": "zoë@example.com"}, "author_email 'zoë@example.com': the part before the @"),
    ({"author_email": "a..b@example.com"}, "author_email 'a..b@example.com': not usable in"),
    ({"description": "   "}, "description: must not be empty"),
    ({"description": "    indented"}, "description: must not start or end with spaces"),
    ({"description": "tab\there"}, "description: contains the unprintable character U+0009"),
    ({"author_name": "line\nbreak"}, "author_name: must be a single line"),
    ({"project_name": "Zero\u200bWidth"}, "project_name: contains the unprintable character"),
    # Refused after rendering (post-generation hook): uv cannot lock a project that shadows one
    # of its own dependencies.
    ({"project_name": "Rich"}, "project_slug 'rich': is the name of a package the project"),
]


@pytest.mark.parametrize(("overrides", "message"), INVALID_ANSWERS, ids=lambda v: str(v)[:40])
def test_invalid_answers_are_refused_and_leave_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], overrides: dict, message: str
) -> None:
    with pytest.raises(FailedHookException):
        cookiecutter(
            str(TEMPLATE), no_input=True, extra_context=overrides, output_dir=str(tmp_path)
        )
    err = capfd.readouterr().err
    assert f"error: {message}" in err
    assert list(tmp_path.iterdir()) == [], "a refused bake must leave no directory behind"


@pytest.mark.parametrize("slug", ["../../x", "../../x/y", "a/b"])
def test_a_replayed_path_slug_is_refused_and_leaves_nothing_anywhere(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], slug: str
) -> None:
    """A replay file skips the prompts and their derivations: the slug is still checked, before
    cookiecutter creates the project directory (`../../x/y` left `../../x` behind before)."""
    answers = {k: v for k, v in derived_answers().items() if not k.startswith("_")}
    replay = tmp_path / "replay.json"
    replay.write_text(json.dumps({"cookiecutter": {**answers, "project_slug": slug}}))
    output = tmp_path / "a" / "b" / "out"
    output.mkdir(parents=True)
    with pytest.raises(FailedHookException):
        cookiecutter(str(TEMPLATE), replay=str(replay), output_dir=str(output))
    assert f"error: project_slug {slug!r}" in capfd.readouterr().err
    assert list(output.iterdir()) == []
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b"], "nothing outside either"
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["out"]


def test_the_checks_run_when_the_project_directory_is_named() -> None:
    """The extension rewrites exactly the template's directory name: renaming it needs both."""
    from local_extensions import PROJECT_DIRECTORY

    (root,) = [p.name for p in TEMPLATE.iterdir() if p.name.startswith("{{")]
    assert root == PROJECT_DIRECTORY


def test_unsupported_python_version_is_refused() -> None:
    answers = derived_answers()
    answers["python_version"] = "3.13"
    assert pre_gen.validate(answers) == ["python_version '3.13': choose one of 3.10, 3.11, 3.12"]


def test_an_unknown_tracker_is_refused() -> None:
    answers = derived_answers()
    answers["experiment_tracking"] = "wandb"
    assert pre_gen.validate(answers) == ["experiment_tracking 'wandb': choose one of mlflow, none"]


def test_every_error_is_reported_at_once() -> None:
    answers = derived_answers()
    answers.update(author_email="nope", github_owner="-x")
    errors = pre_gen.validate(answers)
    assert len(errors) == 2
    assert all("\n" not in e for e in errors)


def test_default_answers_are_valid() -> None:
    assert pre_gen.validate(derived_answers()) == []


NAME_WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    words=st.lists(NAME_WORDS, min_size=1, max_size=4),
    separator=st.sampled_from([" ", "-", "_", "  "]),
    title=st.booleans(),
)
def test_derived_names_are_valid_and_round_trip(
    words: list[str], separator: str, title: bool
) -> None:
    name = separator.join(w.title() if title else w for w in words)
    answers = derived_answers(project_name=name)
    slug, module = str(answers["project_slug"]), str(answers["module_name"])
    errors = pre_gen.validate(answers)
    if errors:
        # The only acceptable refusals of a derived name: it starts with a digit, or the module
        # would shadow a real module or keyword.
        assert (
            slug[0].isdigit()
            or module in sys.stdlib_module_names
            or (module in pre_gen.DEPENDENCY_MODULES or keyword.iskeyword(module))
        ), errors
        return
    assert module.replace("_", "-") == slug
    assert module.isidentifier()
    assert slug == "-".join(w.lower() for w in name.replace("_", " ").replace("-", " ").split())


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20))
def test_slug_check_accepts_exactly_normalised_names(slug: str) -> None:
    error = pre_gen.check_slug(slug)
    normalised = bool(slug) and slug == slug.lower() and slug[0].isalpha() and slug.isascii()
    normalised = normalised and all(part.isalnum() for part in slug.split("-"))
    assert (error is None) == normalised


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20))
def test_module_check_never_accepts_unimportable_names(module: str) -> None:
    if pre_gen.check_module(module) is None:
        assert module.isidentifier()
        assert module.isascii()
        assert module == module.lower()
        assert not keyword.iskeyword(module)
        assert module not in sys.stdlib_module_names
        assert module not in pre_gen.DEPENDENCY_MODULES


@settings(max_examples=100, deadline=None)
@given(st.from_regex(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}", fullmatch=True))
def test_valid_github_owners_are_accepted(owner: str) -> None:
    assert pre_gen.check_github_owner(owner) is None


def test_post_gen_keeps_only_the_chosen_license(tmp_path: Path) -> None:
    licenses = tmp_path / "licenses"
    licenses.mkdir()
    for name in ("MIT", "Apache-2.0"):
        (licenses / f"{name}.txt").write_text(name)
    post_gen.choose_license(tmp_path, "Apache-2.0")
    assert (tmp_path / "LICENSE").read_text() == "Apache-2.0"
    assert not licenses.exists()


def test_post_gen_drops_the_tracking_tests_when_nothing_tracks(tmp_path: Path) -> None:
    tests = tmp_path / post_gen.TRACKING_TESTS
    tests.parent.mkdir(parents=True)
    tests.write_text("tests")
    post_gen.prune_experiment_tracking(tmp_path, "mlflow")
    assert tests.exists()
    post_gen.prune_experiment_tracking(tmp_path, "none")
    assert not tests.exists()


def test_the_recorded_answers_regenerate_the_same_project(tmp_path: Path) -> None:
    first = bake(
        tmp_path / "first", project_name="Replay Me", task="regression", license="BSD-3-Clause"
    )
    record = json.loads((first.path / ".cruft.json").read_text())
    saved = record["context"]["cookiecutter"]
    assert {k for k in saved if k.startswith("_")} == {"_template", "_commit"}
    assert record["skip"] == ["uv.lock"]
    answers = {k: v for k, v in saved.items() if not k.startswith("_")}
    second = bake(tmp_path / "second", **answers)
    assert second.path.name == "replay-me"
    for rel in first.files - {"LICENSE"}:  # the LICENSE carries the year it was generated in
        assert (second.path / rel).read_bytes() == (first.path / rel).read_bytes(), rel


LOCK = """version = 1
requires-python = ">=3.10"

[[package]]
name = "alpha"
version = "1.0"

[[package]]
name = "my-ml-project"
version = "0.1.0"
source = { editable = "." }

[[package]]
name = "zulu"
version = "2.0"
"""


@pytest.mark.parametrize(
    ("slug", "order"),
    [
        ("my-ml-project", ["alpha", "my-ml-project", "zulu"]),
        ("aaa-model", ["aaa-model", "alpha", "zulu"]),
        ("zz-top", ["alpha", "zulu", "zz-top"]),
    ],
)
def test_the_lock_names_the_project_in_uvs_order(tmp_path: Path, slug: str, order: list) -> None:
    (tmp_path / "uv.lock").write_text(LOCK)
    post_gen.name_locked_project(tmp_path, slug)
    text = (tmp_path / "uv.lock").read_text()
    assert post_gen.NAME_LINE.findall(text) == order
    assert text.count('source = { editable = "." }') == 1
    assert sorted(text.splitlines()) == sorted(LOCK.replace("my-ml-project", slug).splitlines())


def test_the_lock_refuses_a_project_named_like_a_dependency(tmp_path: Path) -> None:
    (tmp_path / "uv.lock").write_text(LOCK)
    with pytest.raises(ValueError, match="project_slug 'zulu': is the name of a package"):
        post_gen.name_locked_project(tmp_path, "zulu")
    assert (tmp_path / "uv.lock").read_text() == LOCK


def test_the_template_is_recorded_as_an_address_that_works_later(tmp_path: Path) -> None:
    url, _ = post_gen.resolve_template("gh:acme/template", str(tmp_path / "clone"), tmp_path)
    assert url == "https://github.com/acme/template.git"
    (tmp_path / "work" / "tpl").mkdir(parents=True)
    url, checkout = post_gen.resolve_template("tpl", "tpl", tmp_path / "work")
    assert url == str(tmp_path / "work" / "tpl")
    assert checkout == tmp_path / "work" / "tpl"


def test_no_update_record_without_a_template_checkout(tmp_path: Path) -> None:
    project, template = tmp_path / "project", tmp_path / "template"
    project.mkdir()
    template.mkdir()  # a template that is not a git checkout (a zip, a copy)
    answers = {"_template": str(template), "_repo_dir": str(template), "project_slug": "x"}
    status = post_gen.write_cruft_record(project, answers)
    assert status.startswith("No .cruft.json: the template")
    assert "cruft link" in status
    assert not (project / ".cruft.json").exists()


def git(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=path, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_git_init_makes_a_first_commit_on_main(tmp_path: Path) -> None:
    baked = bake(tmp_path, git_init=True)
    assert git(baked.path, "branch", "--show-current") == "main"
    assert git(baked.path, "log", "--format=%s") == "Initial commit from cookiecutter-gitops-ml"
    assert git(baked.path, "status", "--porcelain") == ""


def test_git_init_commits_every_generated_file(tmp_path: Path) -> None:
    """The project's own .gitignore must not hide any file the template generates."""
    baked = bake(tmp_path, git_init=True)
    assert set(git(baked.path, "ls-files").splitlines()) == baked.files


def test_git_init_without_identity_stages_and_explains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty-gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EMAIL", "")
    baked = bake(tmp_path / "out", git_init=True)
    assert "git does not know who you are" in capfd.readouterr().out
    assert git(baked.path, "branch", "--show-current") == "main"
    no_commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=baked.path, capture_output=True)
    assert no_commit.returncode != 0
    assert "pyproject.toml" in git(baked.path, "diff", "--cached", "--name-only")


def test_git_init_no_leaves_no_repository(tmp_path: Path) -> None:
    baked = bake(tmp_path, git_init=False)
    assert not (baked.path / ".git").exists()
