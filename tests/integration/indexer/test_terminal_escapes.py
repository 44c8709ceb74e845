"""Issue 11, item 11: `shipper search` and `shipper trace` show control characters from the
documents escaped, in every column of their tables (and JSON stays JSON). About 8 s."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from elasticsearch import AsyncElasticsearch

from tests.integration.indexer.support import Names

RETITLE = "\x1b]0;pwned\x07"
CLEAR = "\x1b[2J"
C1_CSI = "\x9b31m"
# Anything a terminal acts on: C0 but tab and newline, DEL, C1.
_RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _shipper(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shipper", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "300", "PATH": "/usr/bin:/bin"},
    )


async def test_issue11_11_search_and_trace_escape_control_characters(
    tmp_path: Path, elasticsearch_url: str, es: AsyncElasticsearch, names: Names
) -> None:
    config = names.config("127.0.0.1:9092", "unused", elasticsearch_url)
    path = tmp_path / "indexer.yml"
    path.write_text(yaml.safe_dump(config))
    when = datetime.now(UTC) - timedelta(minutes=1)
    await es.index(
        index=f"{names.prefix}-web-{when:%Y.%m.%d}",
        id="evil",
        document={
            "@timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "service": {"name": f"web{CLEAR}"},
            "log": {"level": f"error{C1_CSI}"},
            "message": f"hello {RETITLE}world",
            "trace": {"id": "tevil42"},  # (one token: no template maps it as keyword here)
            "error": {"stack_trace": f"Traceback:\n  boom{CLEAR}\n"},
        },
        refresh=True,
    )

    for args in (("search", "hello"), ("trace", "tevil42")):
        result = _shipper(*args, "--config", str(path))
        assert result.returncode == 0, result.stderr
        assert "1 of 1" in result.stdout
        assert not _RAW_CONTROL.search(result.stdout + result.stderr), repr(result.stdout)
        assert "hello \\x1b]0;pwned\\x07world" in result.stdout
        assert "web\\x1b[2J" in result.stdout
        assert "error\\x9b31m" in result.stdout
    assert "boom\\x1b[2J" in result.stdout  # trace shows the stack trace, still escaped

    as_json = _shipper("search", "hello", "--json", "--config", str(path))
    assert "\\u001b]0;pwned\\u0007" in as_json.stdout  # JSON escapes them itself
