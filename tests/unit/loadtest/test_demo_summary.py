"""The demo's summary explains its line count: who asked for each line, and how often the log
rotated (the rotated files are counted too)."""

from __future__ import annotations

import json
from pathlib import Path

from loadtest.demo.summary import count_lines, line_kinds, rotated_files


def _line(path: str, request_id: str, logger: str = "shop.access") -> str:
    return json.dumps({"logger": logger, "path": path, "request_id": request_id}) + "\n"


def test_lines_are_explained_by_who_asked_for_them(tmp_path: Path) -> None:
    (tmp_path / "app.log.2").write_text(
        _line("/health", "a1") + _line("/admin/faults", "b1") + _line("/orders", "lt1-u-1")
    )
    (tmp_path / "app.log.1").write_text(_line("/orders", "lt1-u-2") + _line("/health", "lt1-u-3"))
    (tmp_path / "app.log").write_text(
        _line("/admin/faults", "b2") + _line("", "", logger="shop") + "not json\n"
    )
    kinds = line_kinds(tmp_path, "lt1")
    assert (kinds.load, kinds.health_checks, kinds.fault_switches, kinds.other) == (3, 1, 2, 2)
    assert kinds.explained() == (
        "3 load-test requests + 1 health check + 2 fault switches + 2 other lines"
    )
    assert count_lines(tmp_path) == 8 == kinds.load + 1 + 2 + 2
    assert rotated_files(tmp_path) == 2
