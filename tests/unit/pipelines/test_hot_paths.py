"""The per-key-set plans and cheap pre-checks give the same events as the plain rules.

The stages remember work per key set (ecs, redact), per timestamp head and tail, and skip regexes
whose substrings are absent; these tests feed lines that share a key set but not the outcome, so
a remembered plan that assumed too much would show.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pipelines import MetricsExtractor, PipelineContext, tags
from pipelines.derive import Derive
from pipelines.ecs import Ecs
from pipelines.grouping import _MASKS, mask_variables
from pipelines.parse import Parse
from pipelines.redact import Redact
from pipelines.timestamps import Timestamp
from tests.unit.pipelines.support import NOW, raw

VISA = 4111111111111111


def _ecs_event(app: dict[str, Any]) -> dict[str, Any]:
    return {"app": app, "log": {"file": {"path": "/x"}, "offset": 0}}


def test_ecs_same_keys_different_outcomes() -> None:
    stage = Ecs(None, PipelineContext(service_name="shop"))
    good = stage(_ecs_event({"a": 1, "status": 200, "levelname": "INFO", "path": "/p", "b": 2}))
    assert good["http"] == {"response": {"status_code": 200}}
    assert good["app"] == {"a": 1, "b": 2}
    # Same key set: the status is bad, the level an object; both stay, in line order.
    bad = stage(_ecs_event({"a": 1, "status": "x", "levelname": {}, "path": "/p?q=1", "b": 2}))
    assert "http" not in bad
    assert bad["app"] == {"a": 1, "status": "x", "levelname": {}, "b": 2}
    assert bad["url"] == {"query": "q=1", "path": "/p"}
    assert bad["tags"] == [tags.STATUS_INVALID]
    # And None values stay without a tag.
    none = stage(_ecs_event({"a": 1, "status": None, "levelname": None, "path": None, "b": 2}))
    assert none["app"] == {"a": 1, "status": None, "levelname": None, "path": None, "b": 2}
    assert "tags" not in none


def test_ecs_second_key_wins_when_the_first_fails() -> None:
    stage = Ecs()
    assert stage(_ecs_event({"level": "WARN", "levelname": "ERROR"}))["log"]["level"] == "warning"
    event = stage(_ecs_event({"level": [1], "levelname": "ERROR"}))
    assert event["log"]["level"] == "error"
    assert event["app"] == {"level": [1]}


def test_ecs_parent_in_the_way_on_a_later_line() -> None:
    stage = Ecs()
    assert stage(_ecs_event({"method": "GET", "status": 200}))["http"] == {
        "request": {"method": "GET"},
        "response": {"status_code": 200},
    }
    event = stage({"app": {"method": "GET", "status": 200}, "http": "not an object"})
    assert event["http"] == "not an object"
    assert event["app"] == {"method": "GET", "status": 200}


def test_ecs_parents_created_in_line_order() -> None:
    stage = Ecs()
    first = stage(_ecs_event({"user_id": 7, "method": "GET", "threadName": "t"}))
    assert list(first) == ["log", "agent", "ecs", "user", "http", "process"]
    # The method fails this time: http is created by the status, after process.
    second = stage(_ecs_event({"user_id": 7, "method": {}, "threadName": "t", "status": 201}))
    assert list(second) == ["app", "log", "agent", "ecs", "user", "process", "http"]
    assert second["user"] == {"id": "7"}


def test_ecs_many_key_sets_stay_correct() -> None:
    stage = Ecs()
    for index in range(3000):  # more key sets than remembered
        event = stage(_ecs_event({f"k{index}": index, "levelname": "INFO"}))
        assert event["app"] == {f"k{index}": index}
        assert event["log"]["level"] == "info"


def test_redact_same_keys_secret_appears_later() -> None:
    stage = Redact()
    clean = stage({"app": {"user": "bob", "note": "hello", "n": 1}})
    assert "tags" not in clean
    event = stage({"app": {"user": "bob", "note": "mail bob@example.com", "n": VISA}})
    assert event["app"] == {"user": "bob", "note": "mail [REDACTED:email]", "n": "[REDACTED:card]"}
    assert event["tags"] == [tags.REDACTED]


def test_redact_nested_values_under_clean_key_sets() -> None:
    stage = Redact()
    event = stage(
        {"app": {"a": [1, {"password": "x"}, [VISA]], "b": {"c": {"token": "t", "d": "ok"}}}}
    )
    assert event["app"] == {
        "a": [1, {"password": "[REDACTED]"}, ["[REDACTED:card]"]],
        "b": {"c": {"token": "[REDACTED]", "d": "ok"}},
    }
    assert Redact()({"app": {"a": [1, {"ok": 2}]}}) == {"app": {"a": [1, {"ok": 2}]}}


def test_redact_thread_ids_are_not_cards_but_cards_are() -> None:
    stage = Redact()
    assert "tags" not in stage({"app": {"thread": 140528895302528}})
    assert stage({"app": {"thread": VISA}})["app"] == {"thread": "[REDACTED:card]"}


def test_redact_skipped_fields_partly() -> None:
    stage = Redact()
    event = stage({"log": {"file": {"path": "a@b.cd"}, "logger": "x@y.org"}, "app": {"k": "v"}})
    assert event["log"] == {"file": {"path": "a@b.cd"}, "logger": "[REDACTED:email]"}


@given(st.text(alphabet="ab @:=._-/0123456789 4BeArsicASIKghxoylpt\x00", max_size=60))
def test_any_rule_open_is_open_rules(text: str) -> None:
    stage = Redact()
    assert stage._any_rule_open(text) == bool(stage._open_rules(text))


def _mask_all(message: str) -> str:
    text = message[:2048]
    for pattern, placeholder, _ in _MASKS:
        text = pattern.sub(placeholder, text)
    return text


@given(st.text(alphabet="ab0x9fF-@.'\"`[]REDACT:kn ", max_size=80))
def test_mask_variables_skips_only_regexes_that_cannot_match(message: str) -> None:
    assert mask_variables(message) == _mask_all(message)


def test_mask_needles_are_in_every_match() -> None:
    for pattern, _, needles in _MASKS:
        for sample in ("123e4567-e89b-12d3-a456-426614174000", "0x7fff", "a@b.co", "'q'"):
            for match in pattern.finditer(sample):
                assert not needles or any(needle in match[0] for needle in needles), pattern


def test_timestamp_caches_split_head_and_tail() -> None:
    stage = Timestamp(None, PipelineContext(now=lambda: NOW))
    for text, expected in [
        ("2024-05-01 12:00:00,123", "2024-05-01T12:00:00.123Z"),
        ("2024-05-01 12:00:01,123", "2024-05-01T12:00:01.123Z"),  # same tail, new head
        ("2024-05-01T12:00:01.5Z", "2024-05-01T12:00:01.500Z"),
        ("2024-05-01T12:00:01", "2024-05-01T12:00:01.000Z"),  # same head, no tail
        ("2024-05-01T12:00:01+00:00", "2024-05-01T12:00:01.000Z"),
        ("2024-13-01 12:00:00,123", None),  # cached tail, impossible head
        ("2024-05-01X12:00:00,123", "2024-05-01T12:00:00.123Z"),  # not the usual shape: general
        ("2024-05-01 12:00:00,12a", None),
    ]:
        event = stage({"app": {"asctime": text, "x": 1}})
        if expected is None:
            assert event["tags"] == [tags.TIMESTAMP_PARSE_FAILURE]
        else:
            assert event["@timestamp"] == expected


def test_timestamp_microseconds_tail() -> None:
    from pipelines.timestamps import TimestampConfig

    stage = Timestamp(TimestampConfig(precision="us"), PipelineContext(now=lambda: NOW))
    event = stage({"app": {"ts": "2024-05-01T12:00:00.1234Z"}})
    assert event["@timestamp"] == "2024-05-01T12:00:00.123400Z"


def test_derive_numeric_durations_like_the_parser() -> None:
    stage = Derive()
    for value, nanos in [(1.5, 1_500_000), (0, 0), (2, 2_000_000)]:
        assert stage({"app": {"duration_ms": value}})["event"]["duration"] == nanos
    for value in [-1, float("nan"), float("inf"), 1e300, True]:
        event = stage({"app": {"duration_ms": value}})
        assert event["tags"] == [tags.DURATION_INVALID]
        assert event["app"] == {"duration_ms": value}


def test_metrics_method_labels() -> None:
    extract = MetricsExtractor()
    for method, label in [("GET", "GET"), ("get", "GET"), ("Get", "GET"), ("BREW", "OTHER")]:
        event = {"http": {"request": {"method": method}, "response": {"status_code": 200}}}
        observation = extract(event)
        assert observation.http is not None
        assert observation.http.method == label
    event = {"service": {"name": ["x"]}, "http": {"response": {"status_code": 99}}}
    observation = extract(event)
    assert observation.service == "unknown"
    assert observation.http is not None
    assert (observation.http.method, observation.http.status_class) == ("OTHER", "unknown")


def test_parse_general_and_usual_lines_agree() -> None:
    stage = Parse(None, PipelineContext(now=lambda: 1714564800.5))
    usual = stage(raw({"message": "x"}, offset=3))
    tagged = stage(raw({"message": "x"}, offset=3, tags=(tags.PARTIAL,)))
    assert list(usual) == ["@timestamp", "app", "log", "event"]
    assert {**usual, "tags": [tags.PARTIAL]} == tagged
    assert list(tagged) == [*usual, "tags"]
    assert "app" not in stage(raw(b"{}"))
    assert stage(raw(b'"text"'))["tags"] == [tags.NOT_OBJECT]
