"""The comment workflow's check of the pr-report artifact, against a corpus of hostile artifacts.

A fork's pull request builds the artifact: every file in it is the attacker's. Whatever it holds,
the comment has no link, image, reference definition or HTML but the report's own folds (read
back with a CommonMark parser, as CML's remark reads it), only re-encoded PNG files of the
allowed names are published, and nothing else is read: an audit hook records every file opened.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from {{ cookiecutter.module_name }}.errors import CommentError, ProjectError
from {{ cookiecutter.module_name }}.pipeline.evaluate import PLOT_FILES
from {{ cookiecutter.module_name }}.reporting import pr_comment
from {{ cookiecutter.module_name }}.reporting.pr_comment import prepare_comment

pytestmark = pytest.mark.code

HEAD_SHA = "0123456789abcdef0123456789abcdef01234567"
REPOSITORY = "acme/churn-model"
CANARY = "canary-text-outside-the-allowlist"
REPORT = """## Model report: churn-model

✅ **All 3 gates passed**

| Metric | This PR | Base |
| --- | ---: | ---: |
| roc_auc ↑ | 0.9950 | 0.9900 |

<details>
<summary>Lineage: commit abc1234, data 0f1e2d3c</summary>

| | |
| --- | --- |
| Commit | `abc1234` |

</details>
"""
#: The tags of the report's own folds: the only HTML a comment keeps.
FOLD_TAGS = {"<details>", "<details open>", "</details>", "<summary>", "</summary>"}

_RECORDERS: list[list[tuple[str, int]]] = []


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event != "open" or not _RECORDERS:
        return
    path, _, flags = args  # open(path, mode, flags)
    readonly = isinstance(flags, int) and not flags & (os.O_WRONLY | os.O_RDWR)
    if isinstance(path, (str, bytes, os.PathLike)) and isinstance(flags, int) and readonly:
        for records in _RECORDERS:
            records.append((os.fsdecode(path), flags))


sys.addaudithook(_audit)  # audit hooks stay for the process: it records only inside `opened`


@contextlib.contextmanager
def reads() -> Iterator[list[tuple[str, int]]]:
    """(path, flags) of every file opened for reading in the block."""
    records: list[tuple[str, int]] = []
    _RECORDERS.append(records)
    try:
        yield records
    finally:
        _RECORDERS.remove(records)


@pytest.fixture(scope="session")
def png() -> bytes:
    """A real PNG plot, as matplotlib writes the report's plots."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 1.5), dpi=50)
    figure.add_subplot().plot([0, 1, 2], [0, 1, 0.5])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


@pytest.fixture
def artifact(tmp_path: Path, png: bytes) -> Path:
    """A pr-report artifact as pr-report.yml uploads it, and a secret outside it."""
    report = tmp_path / "pr-report"
    (report / "plots").mkdir(parents=True)
    (report / "report.md").write_text(REPORT)
    (report / "pr-number.txt").write_text("7\n")
    (report / "plots" / "roc_curve.png").write_bytes(png)
    (report / "plots" / "confusion_matrix.png").write_bytes(png)
    (report / "checks.html").write_text("<html>gates</html>")
    (tmp_path / "secret.txt").write_text(CANARY)
    return report


def prepare(report: Path, **options: str) -> pr_comment.Comment:
    arguments = {
        "pull_requests": json.dumps([{"number": 7, "head": {"sha": HEAD_SHA}}]),
        "head_sha": HEAD_SHA,
        "head_repository": REPOSITORY,
        "repository": REPOSITORY,
        "images": "publish",
    } | options
    return prepare_comment(report, report.parent / "comment", **arguments)


def assert_only_allowed_reads(opened: list[tuple[str, int]], report: Path) -> None:
    """Nothing outside the allowlist was opened, and nothing through a symlink."""
    allowed = {str(report), "pr-number.txt", "report.md", "plots", *PLOT_FILES.values()}
    assert {path for path, _ in opened} <= allowed
    assert all(flags & os.O_NOFOLLOW for _, flags in opened)


def assert_links_nothing(markdown: str) -> None:
    """No link, image, reference definition or HTML (but the folds), as CommonMark reads it."""
    parser = MarkdownIt("commonmark", {"html": True})
    env: dict[str, str] = {}
    tokens = parser.parse(markdown, env)
    assert env.get("references", {}) == {}
    for token in [*tokens, *(c for t in tokens for c in (t.children or []))]:
        assert token.type not in {"link_open", "image"}, token
        if token.type in {"html_block", "html_inline"}:
            assert set(re.findall(r"<[^>]*>", token.content)) <= FOLD_TAGS, token
    assert "<" not in re.sub("|".join(FOLD_TAGS), "", markdown)


def test_a_report_of_this_repository_is_posted_with_its_plots_re_encoded(
    artifact: Path, png: bytes
) -> None:
    with reads() as opened:
        comment = prepare(artifact)
    assert comment.number == 7
    assert sorted(p.name for p in comment.plots) == ["confusion_matrix.png", "roc_curve.png"]
    for plot in comment.plots:
        data = plot.read_bytes()
        assert pr_comment.reencode_png(data) == data, "already in canonical form"
        assert _pixels(data) == _pixels(png)
    markdown = comment.path.read_text()
    assert "| roc_auc ↑ | 0.9950 | 0.9900 |" in markdown
    assert "<summary>Lineage: commit abc1234, data 0f1e2d3c</summary>" in markdown
    assert markdown.rstrip().endswith("### Plot images")
    assert_links_nothing(markdown)
    assert_only_allowed_reads(opened, artifact)
    assert "checks.html" not in {path for path, _ in opened}


def test_a_forks_plots_are_never_published(artifact: Path) -> None:
    with reads() as opened:
        comment = prepare(artifact, head_repository="someone/churn-model")
    assert comment.plots == ()
    assert not (comment.path.parent / "plots").exists()
    assert {path for path, _ in opened} == {str(artifact), "pr-number.txt", "report.md"}


def test_the_artifact_mode_publishes_nothing(artifact: Path) -> None:
    with reads() as opened:
        assert prepare(artifact, images="artifact").plots == ()
    assert "plots" not in {path for path, _ in opened}


HOSTILE_MARKDOWN = {
    "multi-line link": "[x](\n/proc/self/environ)",
    "multi-line image": "![x](\n  ../secret.txt\n)",
    "reference image": "![y][ref]\n\n[ref]: /proc/self/environ",
    "reference link": "[y]\n\n[y]: <../secret.txt>",
    "collapsed reference": "![ref][]\n\n[ref]:\n/etc/passwd",
    "html img": '<img src="/proc/self/environ">',
    "html in a summary": "<summary><img src=../secret.txt></summary>",
    "html in a fold": "<details><img src=../secret.txt>",
    "html block": "<div>\n<img src=/etc/passwd>\n</div>",
    "autolink": "<file:///etc/passwd>",
    "escaped bracket breakout": "\\[x](/etc/passwd) \\\\[y](/etc/shadow)",
    "entities": "&#91;x&#93;(/etc/passwd) &lt;img src=/etc/passwd&gt;",
    "image in a link": "[![a](/etc/passwd)](https://example.com)",
    "data image": "![x](data:image/png;base64,iVBORw0KGgo=)",
    "link in a table": "| a |\n| --- |\n| [x](/etc/passwd) |",
    "link in a list": "- ![x](../../../../etc/passwd)",
    "absolute path": "![key](/home/runner/.ssh/id_rsa)",
    "control characters": "[x\x00](/etc/passwd)\x1b[31m\u202e)dwssap/cte/(]x[",
    "cr line endings": "[x]\r\n\r\n[x]: /etc/passwd\r\n",
    "flowchart with a click": '```mermaid\nflowchart LR\n  A-->B\n  click A "/etc/passwd"\n```',
    "tilde fence": '~~~ Mermaid\nflowchart LR\n  click A "/etc/passwd"\n~~~',
    "link in a chart label": '```mermaid\nxychart-beta\n  title "[x](/etc/passwd)"\n```',
    "unclosed chart": "```mermaid\nxychart-beta\n[x](/etc/passwd)",
    "link after a chart": "```mermaid\nxychart-beta\n```\n[x](/etc/passwd)",
    "html in a chart": '```mermaid\nxychart-beta\n  title "<img src=/etc/passwd>"\n```',
}


@pytest.mark.parametrize("hostile", HOSTILE_MARKDOWN.values(), ids=HOSTILE_MARKDOWN.keys())
def test_hostile_markdown_links_and_embeds_nothing(artifact: Path, hostile: str) -> None:
    (artifact / "report.md").write_text(REPORT + hostile + "\n")
    markdown = prepare(artifact).path.read_text()
    assert_links_nothing(markdown)
    assert "## Model report: churn-model" in markdown, "the text itself is kept"
    if "flowchart" in hostile:  # a diagram that is not one of the report's charts: plain code
        assert not re.search(r"^\s*(`{3,}|~{3,})\s*mermaid", markdown, re.M | re.I), markdown


def test_the_reports_charts_are_posted_as_they_are(artifact: Path) -> None:
    from {{ cookiecutter.module_name }}.reporting import charts

    drawn = [
        charts.comparison_chart("Test metrics", ["f1", "roc_auc"], [0.9, 0.99], [0.8, 0.98]),
        charts.importance_chart([('odd "name" [1] <b>', 0.2), ("x\\y", -0.1)]),
        charts.histogram_chart("Residuals", [-10.5, 0.0, 10.5], [3, 4]),
    ]
    (artifact / "report.md").write_text(REPORT + "\n\n".join(drawn) + "\n")
    markdown = prepare(artifact).path.read_text()
    for chart in drawn:
        assert chart in markdown
    assert_links_nothing(markdown)


def _symlink(target: str, name: str = "plots/roc_curve.png") -> Callable[[Path], None]:
    def make(report: Path) -> None:
        (report / name).unlink()
        (report / name).symlink_to(target)

    return make


def _plots_folder_elsewhere(report: Path) -> None:
    elsewhere = report.parent / "elsewhere"
    (report / "plots").rename(elsewhere)
    (report / "plots").symlink_to(elsewhere)


def _fifo(report: Path) -> None:
    (report / "plots" / "roc_curve.png").unlink()
    os.mkfifo(report / "plots" / "roc_curve.png")


def _huge(report: Path) -> None:
    with (report / "plots" / "roc_curve.png").open("wb") as handle:
        handle.truncate(pr_comment.MAX_PLOT_BYTES + 1)


def _not_a_png(report: Path) -> None:
    (report / "plots" / "roc_curve.png").write_text(CANARY)


def _zip_bomb(report: Path) -> None:
    header = struct.pack(">IIBBBBB", 64, 64, 8, 0, 0, 0, 0)  # 64x64 grey: 4160 bytes of rows
    pixels = zlib.compress(bytes(50_000_000))
    chunks = [(b"IHDR", header), (b"IDAT", pixels), (b"IEND", b"")]
    (report / "plots" / "roc_curve.png").write_bytes(
        pr_comment.PNG_SIGNATURE + b"".join(pr_comment._chunk(k, b) for k, b in chunks)
    )


def _extra_files(report: Path) -> None:
    (report / "plots" / "evil.png").symlink_to("../../secret.txt")
    (report / "plots" / "..png").write_text(CANARY)
    (report / "secret.png").symlink_to("/proc/self/environ")


#: Artifacts whose plot is skipped (the comment is posted without it), and why.
HOSTILE_PLOTS = {
    "absolute symlink": (_symlink("/proc/self/environ"), "not a regular file"),
    "relative symlink": (_symlink("../../secret.txt"), "not a regular file"),
    "plots folder is a symlink": (_plots_folder_elsewhere, "plots: not a folder"),
    "fifo": (_fifo, "not a regular file"),
    "huge": (_huge, "larger than"),
    "not a png": (_not_a_png, "not a PNG file"),
    "zip bomb": (_zip_bomb, "PNG pixel data does not match its header"),
    "extra files": (_extra_files, None),
}


@pytest.mark.parametrize(("make", "why"), HOSTILE_PLOTS.values(), ids=HOSTILE_PLOTS.keys())
def test_hostile_plot_files_are_never_read_through_or_published(
    artifact: Path, make: Callable[[Path], None], why: str | None
) -> None:
    make(artifact)
    with reads() as opened:
        comment = prepare(artifact)
    assert_only_allowed_reads(opened, artifact)
    published = {plot.name for plot in comment.plots}
    assert published <= set(PLOT_FILES.values())
    if why:
        assert "roc_curve.png" not in published
        assert why in comment.path.read_text()
    for written in comment.path.parent.rglob("*"):
        if written.is_file():
            assert CANARY.encode() not in written.read_bytes()


def test_a_png_is_rewritten_from_its_pixels_only(artifact: Path, png: bytes) -> None:
    """Text chunks (metadata a fork can fill) and bytes after the image end are dropped."""
    text = pr_comment._chunk(b"tEXt", b"Comment\x00" + CANARY.encode())
    tampered = png[:33] + text + png[33:] + CANARY.encode()
    (artifact / "plots" / "roc_curve.png").write_bytes(tampered)
    (plot,) = [p for p in prepare(artifact).plots if p.name == "roc_curve.png"]
    assert CANARY.encode() not in plot.read_bytes()
    assert _pixels(plot.read_bytes()) == _pixels(png)


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("report.md", _symlink("../secret.txt", "report.md")),
        ("pr-number.txt", _symlink("/proc/self/environ", "pr-number.txt")),
    ],
)
def test_a_linked_report_or_number_is_refused(
    artifact: Path, name: str, make: Callable[[Path], None]
) -> None:
    make(artifact)
    with reads() as opened, pytest.raises(CommentError, match=f"{name}: not a regular file"):
        prepare(artifact)
    assert_only_allowed_reads(opened, artifact)


def test_a_huge_report_is_refused_and_a_long_one_cut(artifact: Path) -> None:
    (artifact / "report.md").write_text("x" * (pr_comment.MAX_REPORT_BYTES + 1))
    with pytest.raises(CommentError, match=r"report\.md: larger than"):
        prepare(artifact)
    (artifact / "report.md").write_text("y" * 100_000)
    markdown = prepare(artifact).path.read_text()
    assert len(markdown) < 65_536
    assert "\n\n(The report was cut here: too long.)\n" in markdown


@pytest.mark.parametrize("content", [b"7", b"7\n"])
def test_the_number_of_the_triggering_pull_request_is_accepted(
    artifact: Path, content: bytes
) -> None:
    (artifact / "pr-number.txt").write_bytes(content)
    assert prepare(artifact).number == 7


@pytest.mark.parametrize(
    "content",
    [
        *(b"", b"\n", b"abc", b"07", b"-7", b"7.0", b" 7", b"7 ", b"7\n8", b"7\n\n"),
        *(b"7; rm -rf ~", b"$(id)", b"12345678901", b"\xff\xfe7"),
    ],
    ids=repr,
)
def test_anything_but_a_number_is_refused(artifact: Path, content: bytes) -> None:
    (artifact / "pr-number.txt").write_bytes(content)
    with pytest.raises(CommentError, match="does not hold a pull request number; refusing"):
        prepare(artifact)
    assert not (artifact.parent / "comment").exists()


def test_a_number_that_is_not_the_runs_pull_request_is_refused(
    artifact: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another PR's number: not in the run's list, and the API cannot vouch for it here."""
    monkeypatch.setenv("GH_HOST", "github.invalid")
    (artifact / "pr-number.txt").write_text("8\n")
    with pytest.raises(CommentError, match="PR #8 does not match the run that built the report"):
        prepare(artifact)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("head_sha", "HEAD"),
        ("repository", "acme/x;id"),
        ("head_repository", "../x"),
        ("images", ""),
    ],
)
def test_the_run_context_is_checked_too(artifact: Path, option: str, value: str) -> None:
    with pytest.raises(ProjectError, match=r"is not valid|must be one of"):
        prepare(artifact, **{option: value})


def test_it_runs_on_the_standard_library_alone() -> None:
    """The comment job runs it with the runner's python3: nothing else is installed there."""
    package = pr_comment.__name__.split(".")[0]
    code = (
        f"import sys; import {package}.cli, {package}.reporting.pr_comment; "
        "top = {m.split('.')[0] for m in sys.modules} - {'__main__'}; "
        "print(sorted(top - set(sys.stdlib_module_names)))"
    )
    source = str(Path(pr_comment.__file__).parents[2])
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", f"import sys; sys.path.insert(0, {source!r}); {code}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == str([package])


def _pixels(data: bytes) -> list[list[list[float]]]:
    from matplotlib.image import imread

    pixels: list[list[list[float]]] = imread(io.BytesIO(data), format="png").tolist()  # RGBA
    return pixels
