"""The pull-request comment: check the ``pr-report`` artifact and write what gets posted.

``pr-comment.yml`` runs this (``make pr-comment``) from a checkout of the default branch, with
the runner's own ``python3``: standard library only, and no code of the pull request. Everything
in the artifact is untrusted (a fork's pull request builds it), so nothing in it decides
anything:

- the PR number must be digits and belong to the run that built the report;
- ``report.md`` is posted as text: every character that could open a link, an image or HTML is
  escaped, so nothing in it can make CML upload or link a local file (only the report's own
  ``<details>``/``<summary>`` lines stay HTML, and its Mermaid charts when every line of one is
  a plain chart line);
- plots are published only when the trusted configuration says so (``REPORT_IMAGES`` in the
  default branch's Makefile), never for a pull request from a fork, and only files of a fixed
  list of names (:data:`~..pipeline.evaluate.PLOT_FILES`), opened without following links, at most
  :data:`MAX_PLOT_BYTES`, that are valid PNG images: their pixels are re-encoded into a new file.

Nothing else in the artifact is read, and the artifact's folder is never listed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import struct
import subprocess
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import CommentError, ensure_format
from ..layout import PLOTS_DIR, REPORT_FILE
from ..pipeline.evaluate import PLOT_FILES
from ..release.guards import GITHUB_REPOSITORY

#: ``artifact``: plots stay in the workflow artifact; ``publish``: uploaded to CML's asset host.
IMAGE_MODES = ("artifact", "publish")
PR_NUMBER_FILE = "pr-number.txt"
COMMENT_FILE = "comment.md"
MAX_REPORT_BYTES = 1 << 20
MAX_PLOT_BYTES = 4 << 20
#: GitHub refuses comments over 65,536 characters; this leaves room for the plots and watermark.
MAX_COMMENT_CHARS = 60_000
MAX_PLOT_SIDE = 8192
_NUMBER = re.compile(r"^[1-9][0-9]{0,9}$")
_SHA = re.compile(r"^[0-9a-f]{40}$")
#: The report's own HTML: folds. These lines stay HTML; everything else is escaped.
_FOLD = re.compile(r"^(?:<details>|<details open>|</details>)$")
_SUMMARY = re.compile(r"^<summary>(.*)</summary>$")
#: Characters that open markdown structure that could reach a file: links, images, reference
#: definitions, autolinks and HTML all need one of them. The backslash goes first.
_ESCAPES = {"\\": "\\\\", "[": "\\[", "]": "\\]", "<": "&lt;", ">": "&gt;"}
#: The report's own charts (:mod:`.charts`): a fenced ``mermaid`` block whose every line is one
#: of these xychart lines (quoted labels without markup characters, plain numbers) is posted as it
#: is, for GitHub to draw; a code block links nothing. Any other block is escaped like the text.
_MERMAID_OPEN = "```mermaid"
_FENCE = "```"
_MAX_MERMAID_LINES = 12
_LABEL = r'"[^"\\\[\]<>`{};#\x00-\x1f]*"'
_NUM = r"-?[0-9]{1,12}(?:\.[0-9]{1,12})?"
_MERMAID_LINE = re.compile(
    r"xychart-beta(?: horizontal)?"
    rf"|  title {_LABEL}"
    rf"|  x-axis \[{_LABEL}(?:, {_LABEL})*\]"
    rf"|  y-axis {_LABEL}(?: {_NUM} --> {_NUM})?"
    rf"|  (?:bar|line) \[{_NUM}(?:, {_NUM})*\]"
)
#: Any other fence that GitHub would draw as a diagram: posted as plain code instead.
_OTHER_DIAGRAM = re.compile(r"^( {0,3}(?:`{3,}|~{3,})\s*)mermaid", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG colour type -> (channels, allowed bit depths).
_PNG_COLOURS = {0: (1, {1, 2, 4, 8, 16}), 2: (3, {8, 16}), 3: (1, {1, 2, 4, 8}), 4: (2, {8, 16})}
_PNG_COLOURS[6] = (4, {8, 16})


@dataclass(frozen=True)
class Comment:
    """What the comment workflow posts: to which PR, the markdown file, the plots to publish."""

    number: int
    path: Path
    plots: tuple[Path, ...]


# --- reading the artifact ----------------------------------------------------------------------


@contextlib.contextmanager
def _folder(path: str | Path, dir_fd: int | None = None) -> Iterator[int]:
    """Open a folder without following a symlink (none of its parts may be one, via dir_fd)."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, dir_fd=dir_fd)
    try:
        yield fd
    finally:
        os.close(fd)


def read_untrusted(folder: int, name: str, limit: int) -> bytes:
    """Read the regular file ``name`` in the open folder ``folder``: never a link, FIFO or device.

    Raises:
        CommentError: the file is missing, a link or not a regular file, or over ``limit``.
    """
    try:
        fd = os.open(name, _READ, dir_fd=folder)
    except FileNotFoundError:
        raise CommentError(f"{name}: not in the artifact") from None
    except OSError as exc:  # ELOOP: a symlink
        raise CommentError(f"{name}: not a regular file ({exc.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CommentError(f"{name}: not a regular file")
        data = os.read(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise CommentError(f"{name}: larger than {limit} bytes")
    return data


# --- the pull request number -------------------------------------------------------------------


def parse_pr_number(data: bytes) -> int:
    """The PR number of ``pr-number.txt``: digits only (one final newline allowed)."""
    text = data.decode("ascii", errors="replace").removesuffix("\n")
    if not _NUMBER.fullmatch(text):
        raise CommentError(f"{PR_NUMBER_FILE} does not hold a pull request number; refusing")
    return int(text)


def _api_head_sha(repository: str, number: int) -> str | None:
    """The head commit of PR ``number`` as GitHub's API gives it (gh, GH_TOKEN), or None."""
    if shutil.which("gh") is None:
        return None
    proc = subprocess.run(
        ["gh", "api", f"repos/{repository}/pulls/{number}", "--jq", ".head.sha"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def ensure_run_pull_request(
    number: int, pull_requests: str, head_sha: str, repository: str
) -> None:
    """Refuse a PR number that does not belong to the run that built the report.

    Same-repository PRs are listed in the run's ``pull_requests``; for forks GitHub lists none,
    so the PR's head commit (asked from the API) must be the commit the run built.
    """
    try:
        listed = json.loads(pull_requests)
    except json.JSONDecodeError:
        raise CommentError("the run's pull_requests are not JSON") from None
    if isinstance(listed, list) and any(
        isinstance(pr, dict) and pr.get("number") == number for pr in listed
    ):
        return
    if _api_head_sha(repository, number) == head_sha:
        return
    raise CommentError(f"PR #{number} does not match the run that built the report; refusing")


# --- the markdown ------------------------------------------------------------------------------


def _escape(text: str) -> str:
    return "".join(_ESCAPES.get(char, char) for char in text)


def sanitize_markdown(text: str) -> str:
    r"""Return ``text`` with no way left to link, embed or upload anything.

    Control and bidirectional-override characters are dropped; ``\``, ``[``, ``]``, ``<`` and
    ``>`` are escaped on every line, except the report's own fold lines (``<details>``,
    ``</details>``, ``<summary>...</summary>`` whose text is escaped). Without an unescaped
    ``[`` or ``<`` CommonMark has no link, image, reference definition, autolink or HTML.
    """
    lines: list[str] = []
    source = _CONTROL.sub("", text.replace("\r\n", "\n")).split("\n")
    index = 0
    while index < len(source):
        line = source[index]
        chart = _chart_block(source, index)
        if chart:
            lines += chart
            index += len(chart)
            continue
        summary = _SUMMARY.fullmatch(line)
        line = _OTHER_DIAGRAM.sub(r"\1text", line)  # drawn only when it is one of our charts
        if _FOLD.fullmatch(line):
            lines.append(line)
        elif summary:
            lines.append(f"<summary>{_escape(summary.group(1))}</summary>")
        else:
            lines.append(_escape(line))
        index += 1
    sanitized = "\n".join(lines)
    if len(sanitized) > MAX_COMMENT_CHARS:
        sanitized = sanitized[:MAX_COMMENT_CHARS] + "\n\n(The report was cut here: too long.)\n"
    return sanitized


def _chart_block(lines: list[str], start: int) -> list[str]:
    """The fenced chart starting at ``lines[start]`` if every line of it is allowed, else []."""
    if lines[start] != _MERMAID_OPEN:
        return []
    body = lines[start + 1 : start + 2 + _MAX_MERMAID_LINES]
    if _FENCE not in body:
        return []
    body = body[: body.index(_FENCE)]
    if not body or not all(_MERMAID_LINE.fullmatch(line) for line in body):
        return []
    return [_MERMAID_OPEN, *body, _FENCE]


# --- the plots ---------------------------------------------------------------------------------


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The chunks of a PNG file up to IEND, each checked against its CRC."""
    if not data.startswith(PNG_SIGNATURE):
        raise CommentError("not a PNG file")
    chunks, position = [], len(PNG_SIGNATURE)
    while True:
        if position + 12 > len(data):
            raise CommentError("PNG file cut short")
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        crc = data[position + 8 + length : position + 12 + length]
        if (
            len(body) != length
            or len(crc) != 4
            or zlib.crc32(kind + body) != int.from_bytes(crc, "big")
        ):
            raise CommentError("PNG chunk damaged")
        chunks.append((kind, body))
        position += 12 + length
        if kind == b"IEND":
            return chunks


def reencode_png(data: bytes) -> bytes:
    """Return a new PNG file holding only the pixels of ``data``, after checking every byte.

    The image header, palette and pixel data are validated (dimensions at most
    :data:`MAX_PLOT_SIDE`, non-interlaced, pixel data exactly as long as the header says, each
    row with a valid filter, decompressed with a bound so that no zip bomb can expand) and
    written again; every other chunk (text, metadata, anything appended) is dropped.

    Raises:
        CommentError: for anything that is not such a PNG image.
    """
    chunks = _png_chunks(data)
    if chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise CommentError("PNG file without a valid header")
    header = chunks[0][1]
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", header
    )
    channels, depths = _PNG_COLOURS.get(colour, (0, set()))
    if depth not in depths or (compression, filtering, interlace) != (0, 0, 0):
        raise CommentError("unsupported PNG format")
    if not (0 < width <= MAX_PLOT_SIDE and 0 < height <= MAX_PLOT_SIDE):
        raise CommentError(f"PNG image of {width}x{height} pixels")
    palette = [body for kind, body in chunks if kind == b"PLTE"]
    if colour == 3 and (len(palette) != 1 or len(palette[0]) % 3 or len(palette[0]) > 768):
        raise CommentError("PNG palette missing or invalid")
    row = (width * channels * depth + 7) // 8
    expected = height * (1 + row)
    inflater = zlib.decompressobj()
    try:
        pixels = inflater.decompress(b"".join(b for k, b in chunks if k == b"IDAT"), expected + 1)
    except zlib.error:
        raise CommentError("PNG pixel data damaged") from None
    if len(pixels) != expected or inflater.unconsumed_tail or not inflater.eof:
        raise CommentError("PNG pixel data does not match its header")
    if any(pixels[r * (row + 1)] > 4 for r in range(height)):
        raise CommentError("PNG row with an unknown filter")
    out = PNG_SIGNATURE + _chunk(b"IHDR", header)
    if colour == 3:
        out += _chunk(b"PLTE", palette[0])
    return out + _chunk(b"IDAT", zlib.compress(pixels, 9)) + _chunk(b"IEND", b"")


def copy_plots(report: int, out: Path) -> tuple[list[Path], list[str]]:
    """Re-encode the report's plots of the allowed names into ``out``; return them and the skips.

    Only ``plots/<name>`` for a name of :data:`~..pipeline.evaluate.PLOT_FILES` is opened (a
    missing one is skipped quietly, any other problem named in the skips).
    """
    written: list[Path] = []
    skipped: list[str] = []
    with contextlib.ExitStack() as stack:
        try:
            plots = stack.enter_context(_folder(PLOTS_DIR, dir_fd=report))
        except FileNotFoundError:
            return written, skipped
        except OSError as exc:  # a symlink or a file
            return written, [f"{PLOTS_DIR}: not a folder ({exc.strerror})"]
        for name in sorted(set(PLOT_FILES.values())):
            try:
                image = reencode_png(read_untrusted(plots, name, MAX_PLOT_BYTES))
            except CommentError as exc:
                if "not in the artifact" not in str(exc):
                    skipped.append(f"{PLOTS_DIR}/{name}: {exc}")
                continue
            target = out / PLOTS_DIR / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(image)
            written.append(target)
    return written, skipped


# --- the comment -------------------------------------------------------------------------------


def prepare_comment(
    report_dir: Path,
    out: Path,
    *,
    pull_requests: str,
    head_sha: str,
    head_repository: str,
    repository: str,
    images: str,
) -> Comment:
    """Check the artifact in ``report_dir`` and write the comment (and plots) into ``out``.

    Args:
        report_dir: the downloaded ``pr-report`` artifact (untrusted).
        out: a new folder for ``comment.md`` and the re-encoded plots.
        pull_requests: the triggering run's pull requests, as JSON.
        head_sha: the commit the run built.
        head_repository: OWNER/NAME of the pull request's repository (a fork's differs).
        repository: OWNER/NAME of this repository.
        images: the trusted configuration: ``publish`` or ``artifact``.

    Raises:
        CommentError: the number is not the run's PR, or report.md cannot be read.
    """
    if images not in IMAGE_MODES:
        raise CommentError(f"images must be one of {', '.join(IMAGE_MODES)}, not {images!r}")
    ensure_format(head_sha, _SHA, "head commit")
    ensure_format(repository, GITHUB_REPOSITORY, "repository")
    ensure_format(head_repository, GITHUB_REPOSITORY, "head repository")
    with contextlib.ExitStack() as stack:
        try:
            report = stack.enter_context(_folder(report_dir))
        except OSError as exc:
            raise CommentError(f"{report_dir}: no report artifact ({exc.strerror})") from None
        number = parse_pr_number(read_untrusted(report, PR_NUMBER_FILE, 64))
        ensure_run_pull_request(number, pull_requests, head_sha, repository)
        text = read_untrusted(report, REPORT_FILE, MAX_REPORT_BYTES).decode("utf-8", "replace")
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        plots: list[Path] = []
        skipped: list[str] = []
        if images == "publish" and head_repository == repository:
            plots, skipped = copy_plots(report, out)
    markdown = sanitize_markdown(text)
    if plots:  # the comment workflow appends the images it uploads
        markdown = markdown.rstrip("\n") + "\n\n### Plot images\n\n"
    for problem in skipped:
        markdown += f"\n_Not published: {_escape(problem)}_\n"
    path = out / COMMENT_FILE
    path.write_text(markdown, encoding="utf-8")
    return Comment(number, path, tuple(plots))
