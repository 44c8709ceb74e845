"""The verdict: which expectation held, and what the report says when one did not."""

from __future__ import annotations

from pathlib import Path

from loadtest.harness.alerts import AlertLog
from loadtest.harness.delivery import RequestMatch, read_request_log
from loadtest.harness.verdict import Expectations, judge

_KNOWN = frozenset({"AppHighErrorRatio", "AppHighLatencyP95", "AppErrorLogBurst", "ShipperDown"})


def _expect(firing: tuple[str, ...] = (), quiet: tuple[str, ...] = ()) -> Expectations:
    return Expectations(firing=firing, quiet=quiet, may_fire=(), known=_KNOWN)


def _matched(n: int = 10) -> RequestMatch:
    return RequestMatch(locust_requests=n, ids_sent=n, answered=n, lines_found=n)


def _by_name(checks: list) -> dict[str, tuple[bool, str]]:  # type: ignore[type-arg]
    return {c.name: (c.passed, c.detail) for c in checks}


def test_an_expected_alert_that_fired_and_was_delivered_passes_with_its_timings() -> None:
    log = AlertLog()
    log.saw("AppHighErrorRatio", "pending", {}, 105.0)
    log.saw("AppHighErrorRatio", "firing", {"severity": "critical"}, 112.5)
    log.delivered("AppHighErrorRatio", "pager", 114.0)
    checks = _by_name(judge(_expect(firing=("AppHighErrorRatio",)), log, _matched(), origin=100.0))
    passed, detail = checks["AppHighErrorRatio fires"]
    assert passed and "12.5 s" in detail and "14.0 s" in detail and "pager" in detail
    assert checks["no other alert fires"][0]


def test_an_expected_alert_that_never_fired_fails_and_says_so() -> None:
    log = AlertLog()
    log.saw("AppHighLatencyP95", "pending", {}, 10.0)
    checks = _by_name(judge(_expect(firing=("AppHighLatencyP95",)), log, _matched(), origin=0.0))
    assert checks["AppHighLatencyP95 fires"] == (False, "never fired, pending only")


def test_fired_but_not_delivered_fails() -> None:
    log = AlertLog()
    log.saw("AppHighErrorRatio", "firing", {}, 10.0)
    checks = _by_name(judge(_expect(firing=("AppHighErrorRatio",)), log, None, origin=0.0))
    passed, detail = checks["AppHighErrorRatio fires"]
    assert not passed and "never delivered" in detail


def test_a_quiet_alert_that_fired_and_an_unexpected_one_both_fail() -> None:
    log = AlertLog()
    log.saw("AppHighLatencyP95", "firing", {}, 30.0)
    log.saw("ShipperDown", "firing", {}, 31.0)
    checks = _by_name(judge(_expect(quiet=("AppHighLatencyP95",)), log, None, origin=0.0))
    assert checks["AppHighLatencyP95 stays quiet"] == (False, "fired after 30.0 s")
    assert checks["no other alert fires"] == (False, "fired: ShipperDown")


def test_pending_alone_is_not_firing() -> None:
    log = AlertLog()
    log.saw("AppHighLatencyP95", "pending", {}, 30.0)
    checks = _by_name(judge(_expect(quiet=("AppHighLatencyP95",)), log, None, origin=0.0))
    assert checks["AppHighLatencyP95 stays quiet"][0]


def test_an_expectation_naming_an_unknown_alert_fails() -> None:
    checks = _by_name(judge(_expect(firing=("AppTypo",)), AlertLog(), None, origin=0.0))
    assert checks["AppTypo exists"][0] is False


def test_missing_and_duplicated_request_lines_fail_with_examples() -> None:
    match = RequestMatch(
        locust_requests=10, ids_sent=10, answered=10, lines_found=10,
        missing=["r-1"], duplicated=["r-2"], missing_count=1, duplicated_count=1,
    )  # fmt: skip
    checks = _by_name(judge(_expect(), AlertLog(), match, origin=0.0))
    passed, detail = checks["every request logged exactly once"]
    assert not passed and "1 missing (e.g. r-1)" in detail and "1 duplicated (e.g. r-2)" in detail


def test_locust_counting_other_requests_than_it_recorded_fails() -> None:
    match = RequestMatch(locust_requests=11, ids_sent=10, answered=10, lines_found=10)
    assert not match.ok


def test_request_log_lines_and_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "requests.log"
    assert read_request_log(path) == {}
    path.write_text("lt-a-0 200\nlt-a-1 503\nlt-a-2 0\n")
    assert read_request_log(path) == {"lt-a-0": 200, "lt-a-1": 503, "lt-a-2": 0}


def test_an_expected_warning_inhibited_by_a_critical_counts_as_handled() -> None:
    log = AlertLog()
    log.saw("AppErrorLogBurst", "firing", {}, 12.0)
    log.inhibited("AppErrorLogBurst", 13.0)
    checks = _by_name(judge(_expect(firing=("AppErrorLogBurst",)), log, None, origin=0.0))
    passed, detail = checks["AppErrorLogBurst fires"]
    assert passed and "inhibited" in detail
