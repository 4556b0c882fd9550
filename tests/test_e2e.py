"""End to end: bake projects and run the commands their README gives, for real.

They run as on a bare machine: PATH has python3, git and make and no uv, so each project uses the
uv its Makefile bootstraps into .tools/ (and so do its git hooks, BentoML and the server).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import TEMPLATE, Baked, bake, bare_env

pytestmark = pytest.mark.e2e


def git(project: Baked, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return project.run("git", *args, check=check, env=bare_env())


# Session scope: xdist may hand this worker tests of other modules between the demo's tests,
# and a module-scoped fixture would then be torn down and baked again (about five minutes).
@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Baked:
    """`make demo` of the template, into a temporary directory: the default project, run whole."""
    demo_dir = tmp_path_factory.mktemp("demo")
    started = time.perf_counter()
    result = subprocess.run(
        ["make", "-C", str(TEMPLATE), "demo", f"DEMO_DIR={demo_dir}"],
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
        env=bare_env(),
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-8000:]
    print(f"make demo: {time.perf_counter() - started:.1f} s")
    return Baked(demo_dir / "my-ml-project", {"task": "classification"})


def test_demo_runs_the_default_project_end_to_end(demo: Baked) -> None:
    artifacts = demo.path / "artifacts"
    assert (demo.path / "uv.lock").exists()
    assert git(demo, "branch", "--show-current").stdout.strip() == "main"
    assert (artifacts / "model.joblib").exists()
    checks = json.loads((artifacts / "checks.json").read_text())
    assert checks["passed"] is True
    assert checks["gates"]
    report = (artifacts / "report" / "report.md").read_text()
    assert f"All {len(checks['gates'])} gates passed" in report
    (requirements,) = (demo.path / "bentoml_home" / "bentos").glob("*/*/env/python/*.txt")
    pins = requirements.read_text().splitlines()
    assert "scikit-learn==1.5.2" in pins, "the bento's packages are pinned by uv.lock"
    assert not [p for p in pins if p.startswith(("deepchecks", "pytest"))]
    assert json.loads((artifacts / "monitor.json").read_text())["verdict"] == "stable"
    assert (demo.path / ".tools" / "bin" / "uv").exists(), "the demo project has its own uv"
    assert git(demo, "status", "--porcelain").stdout == "", "uv.lock was committed, unchanged"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(demo: Baked, target: str, port: int, ready_path: str) -> subprocess.Popen:
    """Start ``make <target> PORT=<port>`` in its own session; wait until ``ready_path`` answers."""
    ready_url = f"http://127.0.0.1:{port}{ready_path}"
    server = subprocess.Popen(
        ["make", target, f"PORT={port}"],
        cwd=demo.path,
        env=bare_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while True:
        assert server.poll() is None, server.stderr.read().decode()[-3000:]
        try:
            with urllib.request.urlopen(ready_url, timeout=2) as ok:
                assert ok.status == 200
                return server
        except OSError:
            assert time.monotonic() < deadline, f"make {target} did not answer in 180 s"
            time.sleep(0.5)


def test_make_ui_serves_the_tracked_runs_of_the_demo(demo: Baked) -> None:
    """The demo trained with tracking on: `make ui` shows its runs from the embedded store."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = _serve(demo, "ui", port, "/health")
    try:
        with urllib.request.urlopen(f"{url}/", timeout=30) as page:
            assert b"<html" in page.read().lower(), "the UI's page (full mlflow, not skinny)"
        name = "my-ml-project"
        with urllib.request.urlopen(
            f"{url}/api/2.0/mlflow/experiments/get-by-name?experiment_name={name}", timeout=30
        ) as response:
            experiment = json.load(response)["experiment"]["experiment_id"]
        search = urllib.request.Request(
            f"{url}/api/2.0/mlflow/runs/search",
            data=json.dumps({"experiment_ids": [experiment]}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(search, timeout=30) as response:
            runs = json.load(response)["runs"]
        tracked = json.loads((demo.path / "artifacts" / "tracking.json").read_text())
        (run,) = [r for r in runs if r["info"]["run_id"] == tracked["run_id"]]
        tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
        assert tags["git.branch"] == "main"
        assert tags["gates.passed"] == "true"  # `make check` added the verdict to its run
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def test_make_serve_answers_in_the_demo_project(demo: Baked) -> None:
    """The demo's last hint, `make serve`, from a shell that has no uv."""
    port = free_port()
    server = _serve(demo, "serve", port, "/readyz")
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/metadata",
            data=b"{}",
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["task"] == "classification"
        example = demo.run("make", "example-request", f"PORT={port}", env=bare_env())
        assert "curl -s -X POST" in example.stdout
        assert "\n200 [" in example.stdout
        # Killed outright, `make serve` takes its workers (own process groups) with it.
        processes = _descendants(server.pid)
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=60)
        deadline = time.monotonic() + 30
        while (alive := [p for p in processes if _running(p)]) and (time.monotonic() < deadline):
            time.sleep(0.2)
        assert not alive, "processes of `make serve` outlived its SIGKILLed group"
        with socket.socket() as sock:  # no listener left: the next `make serve` can bind it
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie not yet reaped does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid``, read from /proc (Linux)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            parents[int(stat.parent.name)] = int(stat.read_text().rpartition(")")[2].split()[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def test_make_register_tags_the_demo_project(demo: Baked) -> None:
    result = demo.run("make", "register", "PUSH=0", env=bare_env())
    assert "registered my-ml-project@v0.1.0" in result.stdout
    assert git(demo, "tag", "--list").stdout.split() == ["my-ml-project@v0.1.0"]


def test_pre_commit_passes_on_a_fresh_project_and_refuses_bad_commits(demo: Baked) -> None:
    before = git(demo, "status", "--porcelain").stdout
    checked = demo.run("make", "pre-commit", env=bare_env())
    said = checked.stdout + checked.stderr
    assert "[WARNING]" not in said, "no deprecated hook forms"
    package = next((demo.path / "src").iterdir())
    bad_code = package / "sloppy.py"
    bad_code.write_text("import os\ndef f( x ):\n    return eval(x)\n")
    git(demo, "add", str(bad_code))
    refused = git(demo, "commit", "-m", "lint error", check=False)
    assert refused.returncode != 0
    hooks_said = refused.stdout + refused.stderr  # git sends hook output to stderr
    assert "ruff check" in hooks_said
    assert "Failed" in hooks_said
    git(demo, "reset", "--quiet", "--", str(bad_code))  # the hook may have rewritten it
    bad_code.unlink()

    dataset = demo.path / "big.csv"
    dataset.write_bytes(b"a,b\n" + b"1,2\n" * (5 * 1024 * 1024 // 4))
    git(demo, "add", "big.csv")
    refused = git(demo, "commit", "-m", "a 5 MB dataset", check=False)
    assert refused.returncode != 0
    hooks_said = refused.stdout + refused.stderr
    assert "big.csv" in hooks_said
    assert "exceeds 1024 KB" in hooks_said
    git(demo, "reset", "--quiet", "--", "big.csv")
    dataset.unlink()

    assert git(demo, "status", "--porcelain").stdout == before, "refused commits leave no trace"


# Each benchmark on tiny sizes: the figures are `make bench-*`'s job; this proves the targets run.
BENCHMARKS = {
    "bench-pipeline": ("--rows 2000", "peak RSS MB"),
    "bench-checks": ("--rows 2000 --sample-size 1000 --unsampled-max 0", "sampled s"),
    "bench-monitor": ("--rows 2000 --sample-size 1000", "drift"),
    "bench-serve": ("--seconds 0.5", "200 req/s p99 ms"),
    "bench-predict": ("--rows 2000 --train-rows 2000", "make predict (in-process)"),
    "bench-tune": ("--trials 2 --rows 400", "trials/s"),
}


@pytest.mark.parametrize("target", BENCHMARKS)
def test_benchmarks_run(demo: Baked, target: str) -> None:
    args, expected = BENCHMARKS[target]
    result = demo.run("make", target, f"ARGS={args}", env=bare_env())
    assert expected in result.stdout


class TestRegressionProject:
    """Its own xdist scope (`--dist loadscope`): it runs beside the demo, not after it."""

    def test_installs_lints_and_passes_its_tests(self, tmp_path: Path) -> None:
        project = bake(tmp_path, task="regression", git_init=True)
        assert "uv.lock" in git(project, "ls-files").stdout.split(), "locked from the first commit"
        started = time.perf_counter()
        project.run("make", "install", env=bare_env())
        print(f"make install (regression, uv bootstrapped): {time.perf_counter() - started:.1f} s")
        assert git(project, "status", "--porcelain").stdout == ""
        project.run("make", "lint", env=bare_env())
        project.run("make", "test", env=bare_env())
        assert (project.path / "artifacts" / "metrics.json").exists()
        # Batch scoring and tuning of a regression model, as a user runs them.
        project.run(
            "make", "predict", "INPUT=data/diabetes.csv", "OUTPUT=out/p.csv", env=bare_env()
        )
        scored = (project.path / "out" / "p.csv").read_text().splitlines()
        assert scored[0] == "prediction"
        assert len(scored) == 443
        project.run("make", "tune", "TRIALS=3", "APPLY=1", env=bare_env())
        changed = git(project, "diff", "--numstat", "params.yaml").stdout.split()
        assert changed[:2] == ["1", "1"], "APPLY=1 changes the one tuned line of params.yaml"
        assert json.loads((project.path / "artifacts" / "tune.json").read_text())["applied"] is True
        # ... and the study's summary beside it, to commit with it (the PR report reads it).
        study = git(project, "status", "--porcelain", "tune-study.json").stdout
        assert study == "?? tune-study.json\n"
        adopt_real_data(project)


def _adopt(project: Baked, data: str, target: str, check: bool = True):
    env = {**bare_env(), "DATA": data, "TARGET": target}  # as a workflow passes values: env
    return project.run("make", "adopt", check=check, env=env)


def adopt_real_data(project: Baked) -> None:
    """A new user's own data (tests/data/README.md), onboarded with `make adopt` only."""
    begun = time.perf_counter()
    untouched = [project.path / "params.yaml", project.path / "artifacts" / "lineage.json"]
    before = [path.read_bytes() for path in untouched]
    (project.path / "data" / "bad.csv").write_text(
        "a,b,y\n" + "".join(f"{i},{i % 3},{i * 2}\n" for i in range(40)) + "inf,1,3\n"
    )
    refused = {
        "data/absent.csv": "error: data/absent.csv: file not found",
        "data/bad.csv": "error: data/bad.csv: column 'a': infinite value inf at line 42",
    }
    for data, message in refused.items():
        result = _adopt(project, data, "y", check=False)
        assert result.returncode == 2, result.stdout + result.stderr
        assert message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 or "make:" in result.stderr
    assert [path.read_bytes() for path in untouched] == before, "a refused adopt changes nothing"

    shutil.copy(TEMPLATE / "tests" / "data" / "cars.csv", project.path / "data" / "cars.csv")
    started = time.perf_counter()
    result = _adopt(project, "data/cars.csv", "Miles_per_Gallon")
    print(f"make adopt (cars): {time.perf_counter() - started:.1f} s")
    out = result.stdout
    assert "excluded 'Name': id-like" in out
    assert "excluded 'Year': dates or times" in out
    assert "data.drop_missing_target: false -> true" in out
    assert "dropped 8 row(s) with no 'Miles_per_Gallon'" in out
    assert "behaviour: the sample's invariance" in out
    assert (project.path / "data" / "cars.csv.dvc").is_file()
    lineage = json.loads((project.path / "artifacts" / "lineage.json").read_text())
    assert lineage["data"]["path"] == "data/cars.csv"
    assert lineage["data"]["rows"] == 398
    # The gates it set pass, and the service answers with the pipeline's predictions, missing
    # Horsepower included: its HTTP property tests (the demo covers the rest of the layer).
    project.run("make", "check", env=bare_env())
    served = {**bare_env(), "PYTEST_ADDOPTS": "tests/service/test_properties.py"}
    project.run("make", "test-service", env=served)
    print(f"adopting real data, then check and test-service: {time.perf_counter() - begun:.1f} s")
