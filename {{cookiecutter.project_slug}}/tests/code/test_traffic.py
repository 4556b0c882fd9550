"""The traffic log: rotation by size, a failing disk, the switch, reading it back."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from {{ cookiecutter.module_name }}.errors import DataError
from {{ cookiecutter.module_name }}.serving import traffic

pytestmark = pytest.mark.code

ROW = {"a": 1.5, "b": "x"}
OUTPUT = {"prediction": 0}


def _log(folder: Path, max_file_bytes: int = 10_000, keep_files: int = 3) -> traffic.TrafficLog:
    return traffic.TrafficLog(traffic.LogSettings(folder, max_file_bytes, keep_files), "m:1")


def test_rows_are_appended_read_back_and_rotated_by_size(tmp_path: Path) -> None:
    log = _log(tmp_path / "traffic", max_file_bytes=300, keep_files=2)
    for _ in range(11):  # ~190 bytes each: a new file every second write
        log.write([ROW, ROW], [OUTPUT, OUTPUT])
    log.close()
    files = traffic.log_files(tmp_path / "traffic")
    assert [p.name[-10:] for p in files] == ["0004.jsonl", "0005.jsonl"]  # the last 2 of 6 kept
    assert files == sorted(files)
    for path in files:
        frame = traffic.read_log(path, path.name)
        assert frame.to_dict("records")[0] == ROW
        assert path.stat().st_size < 300 + 200  # rotated once past the limit


def test_a_full_disk_drops_records_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    full = Path("/dev/full")
    if not full.exists():
        pytest.skip("no /dev/full on this system")
    log = _log(tmp_path)
    log.path = lambda number: full  # type: ignore[method-assign]  # every write hits ENOSPC
    with caplog.at_level(logging.WARNING, logger=traffic.__name__):
        for _ in range(5):
            log.write([ROW], [OUTPUT])  # never raises
    warnings = [r for r in caplog.records if r.name == traffic.__name__]
    assert len(warnings) == 1
    assert "record dropped" in warnings[0].getMessage()


def test_the_environment_overrides_and_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(traffic.DIR_ENV, raising=False)
    assert traffic.settings(None, 1, 1) is None
    chosen = traffic.settings("data/traffic", 2, 3)
    assert chosen == traffic.LogSettings(Path("data/traffic"), 2 * traffic.MEGABYTE, 3)
    monkeypatch.setenv(traffic.DIR_ENV, "off")
    assert traffic.settings("data/traffic", 1, 1) is None
    monkeypatch.setenv(traffic.DIR_ENV, "/srv/log")
    chosen = traffic.settings(None, 1, 1)
    assert chosen == traffic.LogSettings(Path("/srv/log"), traffic.MEGABYTE, 1)


def test_reading_skips_a_write_in_progress_and_names_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "traffic-x.jsonl"
    path.write_text('{"input": {"a": 1}}\n{"input": {"a"', encoding="utf-8")
    assert traffic.read_log(path, "log").to_dict("records") == [{"a": 1}]
    path.write_text('{"input": {"a": 1}}\nnot json\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"^log: line 2: not a JSON line"):
        traffic.read_log(path, "log")
    path.write_text('{"output": 1}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"^log: line 1: not a traffic log record"):
        traffic.read_log(path, "log")
