"""timestamp: the line's own time, in any usual shape, becomes UTC ``@timestamp``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines import PipelineContext, tags
from pipelines._time import UtcFormatter, epoch_number_to_us
from pipelines.errors import PipelineConfigError
from pipelines.timestamps import Timestamp, TimestampConfig, TimestampParser
from tests.unit.pipelines.support import NOW, NOW_ISO

CONTEXT = PipelineContext(now=lambda: NOW)


def stamp(value: object, **config: object) -> dict[str, Any]:
    stage = Timestamp(TimestampConfig.model_validate(config), CONTEXT)
    return stage(
        {"@timestamp": NOW_ISO, "event": {"created": NOW_ISO}, "app": {"ts": value, "x": 1}}
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01 12:00:00,123", "2024-05-01T12:00:00.123Z"),  # asctime
        ("2024-05-01T12:00:00.123Z", "2024-05-01T12:00:00.123Z"),
        ("2024-05-01T12:00:00.123456789Z", "2024-05-01T12:00:00.123Z"),
        ("2024-05-01T14:00:00.5+02:00", "2024-05-01T12:00:00.500Z"),
        ("2024-05-01T12:00:00.975241+00:00", "2024-05-01T12:00:00.975Z"),  # timestamp=True
        ("2024-05-01T12:00:00", "2024-05-01T12:00:00.000Z"),
        ("2024-05-01t12:00:00z", "2024-05-01T12:00:00.000Z"),
        ("2024-05-01 12:00:00 UTC", "2024-05-01T12:00:00.000Z"),
        ("2024-05-01 14:00:00 +0200", "2024-05-01T12:00:00.000Z"),
        ("01/May/2024:14:00:00 +0200", "2024-05-01T12:00:00.000Z"),  # access logs
        ("Wed, 01 May 2024 12:00:00 GMT", "2024-05-01T12:00:00.000Z"),
        ("2024/05/01 12:00:00", "2024-05-01T12:00:00.000Z"),
        (1714564800, "2024-05-01T12:00:00.000Z"),
        (1714564800.25, "2024-05-01T12:00:00.250Z"),
        (1714564800123, "2024-05-01T12:00:00.123Z"),
        (1714564800123456, "2024-05-01T12:00:00.123Z"),
        (1714564800123456789, "2024-05-01T12:00:00.123Z"),
        ("1714564800", "2024-05-01T12:00:00.000Z"),
        ("1714564800.5", "2024-05-01T12:00:00.500Z"),
    ],
)
def test_shapes(value: object, expected: str) -> None:
    event = stamp(value)
    assert event["@timestamp"] == expected
    assert event["app"] == {"x": 1}  # the used field is consumed
    assert "tags" not in event


def test_naive_times_use_the_configured_zone() -> None:
    # 14:00 in Berlin (CEST, +02:00) is 12:00 UTC; in January (CET) 13:00 is 12:00 UTC.
    assert stamp("2024-05-01 14:00:00,000", timezone="Europe/Berlin")["@timestamp"] == (
        "2024-05-01T12:00:00.000Z"
    )
    january = stamp("2024-01-15T13:00:00", timezone="Europe/Berlin", max_age_days=None)
    assert january["@timestamp"] == "2024-01-15T12:00:00.000Z"
    # An explicit offset wins over the zone.
    assert stamp("2024-05-01T12:00:00Z", timezone="Europe/Berlin")["@timestamp"] == (
        "2024-05-01T12:00:00.000Z"
    )


def test_microsecond_precision() -> None:
    assert stamp("2024-05-01T12:00:00.123456Z", precision="us")["@timestamp"] == (
        "2024-05-01T12:00:00.123456Z"
    )


def test_explicit_format() -> None:
    assert stamp("01.05.2024 12:00:00", formats=["%d.%m.%Y %H:%M:%S"])["@timestamp"] == (
        "2024-05-01T12:00:00.000Z"
    )


@pytest.mark.parametrize(
    "value",
    ["yesterday", "2024-13-45T99:00:00", True, [1], {"a": 1}, -5, "0001-01-01T00:00:00Z", 1e30],
)
def test_unparsable_keeps_the_value_and_the_read_time(value: object) -> None:
    event = stamp(value)
    assert event["@timestamp"] == NOW_ISO
    assert event["tags"] == [tags.TIMESTAMP_PARSE_FAILURE]
    assert event["app"]["ts"] == value


def test_missing() -> None:
    stage = Timestamp(None, CONTEXT)
    event = stage({"@timestamp": NOW_ISO, "app": {"message": "x"}})
    assert event["@timestamp"] == NOW_ISO
    assert event["tags"] == [tags.TIMESTAMP_MISSING]


def test_no_app_and_no_provisional_time_uses_now() -> None:
    event = Timestamp(None, CONTEXT)({"message": "plain"})
    assert event["@timestamp"] == NOW_ISO
    assert event["tags"] == [tags.TIMESTAMP_MISSING]


def test_first_field_that_parses_wins() -> None:
    stage = Timestamp(None, CONTEXT)
    event = stage(
        {"app": {"timestamp": "garbage", "asctime": "2024-05-01 12:00:00,001", "time": None}}
    )
    assert event["@timestamp"] == "2024-05-01T12:00:00.001Z"
    assert event["app"] == {"timestamp": "garbage", "time": None}
    assert "tags" not in event


def test_order_of_fields_is_configurable() -> None:
    stage = Timestamp(TimestampConfig(fields=["when"]), CONTEXT)
    event = stage({"app": {"when": 1714564800, "ts": 1}})
    assert event["@timestamp"] == "2024-05-01T12:00:00.000Z"
    assert event["app"] == {"ts": 1}


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"formats": ["no directive"]}, "formats"),
        ({"precision": "ns"}, "precision"),
    ],
)
def test_bad_config(config: dict[str, object], key: str) -> None:
    from pipelines import Pipeline

    with pytest.raises(PipelineConfigError, match=rf"pipeline\[0\]\.{key}"):
        Pipeline.from_config([{"type": "timestamp", **config}])


_MOMENTS = st.datetimes(
    min_value=datetime(1973, 3, 4), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


@given(_MOMENTS)
def test_epoch_units_round_trip(moment: datetime) -> None:
    """Seconds, ms, µs and ns of the same instant all read back as that instant."""
    us = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    assert epoch_number_to_us(us * 1000) == us  # nanoseconds
    assert epoch_number_to_us(us) == us  # microseconds
    from_float = epoch_number_to_us(us / 1_000_000)  # a double holds seconds to ~1 µs only
    assert from_float is not None and abs(from_float - us) <= 1
    whole_ms = us // 1000
    assert epoch_number_to_us(whole_ms) == whole_ms * 1000
    whole_s = us // 1_000_000
    assert epoch_number_to_us(whole_s) == whole_s * 1_000_000


@given(_MOMENTS)
def test_iso_round_trip(moment: datetime) -> None:
    parser = TimestampParser()
    formatter = UtcFormatter("us")
    us = parser(moment.isoformat())
    assert us is not None
    text = formatter.format(us)
    assert datetime.fromisoformat(text) == moment


def test_formatter_pads_years() -> None:
    assert UtcFormatter().format(0) == "1970-01-01T00:00:00.000Z"


# Issue 11, item 6: a time far from the read time would be routed to a daily index retention
# deletes at once (1970) or to a new index per distinct future day.


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ({"ts": 0, "message": "m"}, "ts"),
        ({"time": "0", "message": "m"}, "time"),
        ({"@timestamp": 12, "message": "m"}, "@timestamp"),
        ({"ts": "2024-03-31T12:00:00Z", "message": "m"}, "ts"),  # 31 days before the read time
        ({"ts": "2024-05-02T12:02:00Z", "message": "m"}, "ts"),  # a day and 2 minutes ahead
        ({"ts": "5138-01-01T00:00:00Z", "message": "m"}, "ts"),
        ({"ts": 99_999_999_999, "message": "m"}, "ts"),  # epoch seconds of the year 5138
    ],
)
def test_issue11_item6_timestamps_out_of_the_window_keep_the_read_time_tagged(
    line: dict[str, Any], key: str
) -> None:
    from pipelines import Pipeline
    from tests.unit.pipelines.support import raw

    for compiled in (True, False):
        pipeline = Pipeline.from_config(None, CONTEXT, compiled=compiled)
        for _ in range(2):  # the second line of a key set takes the compiled chain
            event = pipeline(raw(line))
            assert event["@timestamp"] == NOW_ISO
            assert event["event"]["created"] == NOW_ISO
            assert event["tags"] == [tags.TIMESTAMP_OUT_OF_RANGE]
            assert event["app"] == {key: line[key]}  # the original time is kept
            assert pipeline.index_for(event) == "app-logs-unknown-2024.05.01"


@pytest.mark.parametrize(
    "value",
    [
        "2024-04-01T12:01:00.000Z",  # 30 days before the read time
        "2024-05-02T11:59:59.000Z",  # just under a day ahead
        "2024-05-01T12:00:00.500Z",
    ],
)
def test_issue11_item6_timestamps_inside_the_window_are_taken(value: str) -> None:
    event = stamp(value)
    assert event["@timestamp"] == value
    assert "tags" not in event


def test_issue11_item6_the_window_is_configurable_and_can_be_switched_off() -> None:
    assert stamp("2024-04-25T12:00:00Z", max_age_days=5)["tags"] == [tags.TIMESTAMP_OUT_OF_RANGE]
    assert "tags" not in stamp("2024-04-27T12:00:00Z", max_age_days=5)
    assert stamp("2024-05-01T14:00:00Z", max_ahead_days=1 / 24)["tags"] == [
        tags.TIMESTAMP_OUT_OF_RANGE
    ]
    unbounded = stamp(0, max_age_days=None, max_ahead_days=None)
    assert unbounded["@timestamp"] == "1970-01-01T00:00:00.000Z"
    assert "tags" not in unbounded
    with pytest.raises(PipelineConfigError, match=r"pipeline\[0\]\.max_age_days"):
        from pipelines import Pipeline

        Pipeline.from_config([{"type": "timestamp", "max_age_days": 0}])


def test_issue11_item6_a_later_candidate_inside_the_window_wins() -> None:
    stage = Timestamp(None, CONTEXT)
    event = stage(
        {
            "@timestamp": NOW_ISO,
            "event": {"created": NOW_ISO},
            "app": {"timestamp": 0, "time": "2024-05-01T11:59:00Z"},
        }
    )
    assert event["@timestamp"] == "2024-05-01T11:59:00.000Z"
    assert event["app"] == {"timestamp": 0}
    assert "tags" not in event


def test_issue11_item6_the_window_moves_with_the_read_time() -> None:
    stage = Timestamp(None, CONTEXT)
    line = "2024-05-10T00:00:00Z"
    early = stage({"event": {"created": NOW_ISO}, "app": {"ts": line}})
    assert early["tags"] == [tags.TIMESTAMP_OUT_OF_RANGE]
    later = "2024-05-09T12:00:00.000Z"
    taken = stage({"@timestamp": later, "event": {"created": later}, "app": {"ts": line}})
    assert taken["@timestamp"] == "2024-05-10T00:00:00.000Z"
