"""The model card of a version: rendered from its lineage record and gate results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..artifacts import atomic_write_text
from ..errors import ReleaseError
from ..layout import ArtifactLayout
from ..records import ChecksRecord, Lineage
from ..release.registry import project_metadata, read_state


def _fmt(value: Any) -> str:  # noqa: ANN401 - formats any JSON value
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return "`" + json.dumps(value, sort_keys=True) + "`"
    return "-" if value is None else str(value)


def render_model_card(
    repo: Path,
    version: str | None = None,
    image: str | None = None,
    layout: ArtifactLayout | None = None,
) -> str:
    """Render the model card (markdown) from lineage.json and checks.json of ``layout``."""
    layout = layout or ArtifactLayout.of(repo)
    lineage = Lineage.read(layout.lineage, "run `make train` first")
    checks = ChecksRecord.read(layout.checks) if layout.checks.is_file() else None
    meta = project_metadata(repo)
    name = lineage.model_name or meta.get("name", "model")
    data, model, git = lineage.data, lineage.model, lineage.git
    out = [f"# Model card: {name} {version or '(unregistered)'}", ""]
    out += [
        "| | |",
        "| --- | --- |",
        f"| Task | {_fmt(lineage.task)} |",
        f"| Model | {_fmt(model.type)} (sha256 `{_fmt(model.sha256)}`) |",
        f"| Commit | `{_fmt(git.commit)}` (dirty: {_fmt(git.dirty)}) |",
        f"| Trained | {_fmt(lineage.started_at)} to {_fmt(lineage.finished_at)} |",
        f"| Seed | {_fmt(lineage.seed)} |",
    ]
    if image:
        out.append(f"| Image | `{image}` |")
    out += ["", "## Intended use", "", meta.get("description") or "(no description)", ""]
    out += [
        "## Data",
        "",
        f"- Source: `{_fmt(data.path)}`, sha256 `{_fmt(data.sha256)}`",
        f"- Rows: {_fmt(data.rows)} (train {_fmt(data.train_rows)}, "
        f"test {_fmt(data.test_rows)}), columns: {_fmt(data.columns)}",
        f"- Target: `{_fmt(data.target)}`, classes: {_fmt(data.classes)}",
        "",
        "| feature | kind | dtype | range or categories | missing |",
        "| --- | --- | --- | --- | --- |",
    ]
    for feat in data.features:
        span = (
            ", ".join(str(c) for c in feat.categories or [])
            if feat.kind == "categorical"
            else f"{_fmt(feat.min)} to {_fmt(feat.max)}"
        )
        out.append(f"| {feat.name} | {feat.kind} | {feat.dtype} | {span} | {_fmt(feat.missing)} |")
    metrics = lineage.metrics
    out += ["", "## Metrics", "", "| metric | train | test |", "| --- | --- | --- |"]
    for key in sorted(metrics.train.keys() | metrics.test.keys()):
        train, test = metrics.train.get(key), metrics.test.get(key)
        out.append(f"| {key} | {_fmt(train)} | {_fmt(test)} |")
    out += ["", "## Gates", ""]
    if checks is None:
        out.append("No gate results (artifacts/checks.json) were found for this card.")
    else:
        verdict = "passed" if checks.passed else "FAILED"
        out += [f"Overall: **{verdict}**", "", "| gate | suite | value | threshold | result |"]
        out.append("| --- | --- | --- | --- | --- |")
        for gate in checks.gates:
            result = "pass" if gate.passed else "FAIL"
            out.append(
                f"| {gate.name} | {gate.suite} | {_fmt(gate.value)} "
                f"| {_fmt(gate.threshold)} | {result} |"
            )
    params = lineage.params
    out += ["", "## Training parameters", "", "```json"]
    out += [json.dumps(params, indent=2, sort_keys=True), "```", ""]
    out += ["## Package versions", "", "| package | version |", "| --- | --- |"]
    out += [f"| {pkg} | {ver} |" for pkg, ver in sorted(lineage.packages.items())]
    out += [
        "",
        "## Limitations",
        "",
        f"- Trained and evaluated on {_fmt(data.rows)} rows of one dataset "
        f"(`{_fmt(data.path)}`); inputs outside the feature ranges above are "
        "extrapolation and have not been evaluated.",
        "- The metrics are measured on a held-out split of the same data, not on production "
        "traffic; monitor drift after deployment.",
        "- The gates check the thresholds set in params.yaml and nothing else: they are not a "
        "fairness, robustness or safety review.",
        "",
    ]
    return "\n".join(out)


def write_model_card(
    repo: Path, output: Path, version: str | None = None, layout: ArtifactLayout | None = None
) -> Path:
    """Render the model card of ``version`` (image from its registration tag) to ``output``."""
    image = None
    if version:
        state = read_state(repo)
        if version not in state.versions:
            raise ReleaseError(f"version {version} is not registered")
        image = state.versions[version].image
    path = output if output.is_absolute() else repo / output
    atomic_write_text(path, render_model_card(repo, version, image, layout))
    return path
