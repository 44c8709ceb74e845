"""The README's 60-second tour, read from README.md itself: its commands, its URLs, and what each
command must print. The demo test runs them after its demo; a unit test checks that every command
has a check here (so a command added to the README is checked, not skipped)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
MARK = "<!-- tour:"
PLACEHOLDER = "ID"
"""Stands for a request id, taken from the output of the tour's search."""

_SECTION = "## A 60-second tour"
_COMMENT = re.compile(r"\s+#\s.*$")  # a trailing `  # what it shows` (no command line has ` # `)
_URL = re.compile(r"<(http://127\.0\.0\.1:\d+/[^>]*)>")
_ROW_ID = re.compile(r"^│[^│]*│[^│]*│[^│]*│\s*(\S+)\s*│")  # the table's fourth column

Context = dict[str, str]


def section(readme: str) -> str:
    """The tour's section of the README, up to the next heading of its level."""
    start = readme.index(_SECTION)
    end = readme.find("\n## ", start + len(_SECTION))
    return readme[start : end if end != -1 else len(readme)]


def commands(readme: str) -> list[str]:
    """The lines of the fenced block after the tour's mark, without their trailing comments."""
    text = section(readme)
    block = text[text.index(MARK) :]
    body = block[block.index("```sh\n") + len("```sh\n") :]
    body = body[: body.index("```")]
    return [_COMMENT.sub("", line).strip() for line in body.splitlines() if line.strip()]


def urls(readme: str) -> list[str]:
    """The URLs the tour's section names for a browser (written as ``<http://…>``)."""
    return _URL.findall(section(readme))


def key(command: str) -> str:
    """Which check a command gets: its program and subcommand, or curl and its URL."""
    words = command.replace(".venv/bin/", "").split()
    if words[0] == "curl":
        return "curl " + next(w for w in words[1:] if not w.startswith("-"))
    return " ".join(words[:2])


def _search(out: str, context: Context) -> None:
    ids = [m.group(1) for line in out.splitlines() if (m := _ROW_ID.match(line))]
    ids = [i for i in ids if i not in ("trace", PLACEHOLDER)]
    assert ids, f"the search shows no request id:\n{out[-2000:]}"
    assert "ERROR" in out.upper(), out[-2000:]
    context["id"] = ids[0]


def _trace(out: str, context: Context) -> None:
    assert context["id"] in out, out[-2000:]
    assert "Traceback (most recent call last)" in out, f"no stack trace:\n{out[-3000:]}"


def _shipper_metrics(out: str, _: Context) -> None:
    names = {line.split("{")[0].split(" ")[0] for line in out.splitlines()}
    assert "app_http_requests_total" in names, out[-2000:]
    assert "logferry_shipper_events_published_total" in names, out[-2000:]


def _indexer_metrics(out: str, _: Context) -> None:
    assert "logferry_indexer_consumer_lag_records{" in out, out[-2000:]


def _demo_alerts(out: str, _: Context) -> None:
    assert "AppHighErrorRatio" in out and "AppErrorLogBurst" in out, out[-3000:]
    assert "PASS" in out and "FAIL" not in out, out[-3000:]


def _rules(out: str, _: Context) -> None:
    assert '"name":"AppHighErrorRatio"' in out.split(), out[-2000:]


def _scenarios(out: str, _: Context) -> None:
    assert "latency-spike:" in out and "error-spike:" in out, out[-2000:]


CHECKS: dict[str, Callable[[str, Context], None]] = {
    "shipper search": _search,
    "shipper trace": _trace,
    "curl http://127.0.0.1:9108/metrics": _shipper_metrics,
    "curl http://127.0.0.1:9109/metrics": _indexer_metrics,
    "loadtest demo": _demo_alerts,
    "curl http://127.0.0.1:9090/api/v1/rules": _rules,
    "loadtest scenarios": _scenarios,
}
"""What each tour command must print (its exit code must be 0 too: pipes run with pipefail)."""
