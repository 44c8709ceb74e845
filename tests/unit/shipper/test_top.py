"""`shipper top`'s arithmetic and table: rates from two scrapes, what each kind shows, how a
process is recognised (tests/integration/shipper/test_top.py runs it in a real terminal)."""

from __future__ import annotations

import pytest
from rich.console import Console

from shipper.top.discover import logferry_role
from shipper.top.sample import Row, Snapshot, row_of, snapshot_of
from shipper.top.view import table_of

_SHIPPER = """# TYPE logferry_shipper_lines_read_total counter
logferry_shipper_lines_read_total {read}
# TYPE logferry_shipper_events_published_total counter
logferry_shipper_events_published_total {published}
# TYPE logferry_shipper_events_failed_total counter
logferry_shipper_events_failed_total 3
# TYPE logferry_shipper_file_lag_bytes gauge
logferry_shipper_file_lag_bytes{{path="/a.log"}} 1024
logferry_shipper_file_lag_bytes{{path="/b.log"}} 2048
# TYPE logferry_shipper_open_files gauge
logferry_shipper_open_files 2
# TYPE logferry_shipper_output_up gauge
logferry_shipper_output_up{{output="kafka://k:9092/t"}} {up}
"""

_INDEXER = """# TYPE logferry_indexer_records_consumed_total counter
logferry_indexer_records_consumed_total {consumed}
# TYPE logferry_indexer_documents_indexed_total counter
logferry_indexer_documents_indexed_total {indexed}
# TYPE logferry_indexer_documents_duplicate_total counter
logferry_indexer_documents_duplicate_total 10
# TYPE logferry_indexer_consumer_lag_records gauge
logferry_indexer_consumer_lag_records{{topic="t",partition="0"}} 5
logferry_indexer_consumer_lag_records{{topic="t",partition="1"}} 7
# TYPE logferry_indexer_dead_letters_total counter
logferry_indexer_dead_letters_total{{reason="mapping"}} 1
logferry_indexer_dead_letters_total{{reason="schema"}} 0
# TYPE logferry_indexer_bulk_failures_total counter
logferry_indexer_bulk_failures_total 2
# TYPE logferry_indexer_kafka_up gauge
logferry_indexer_kafka_up 1
# TYPE logferry_indexer_elasticsearch_up gauge
logferry_indexer_elasticsearch_up {es_up}
"""


def _shipper(at: float, read: int, published: int, up: int = 1) -> Snapshot:
    return snapshot_of("h:1", at, _SHIPPER.format(read=read, published=published, up=up))


def test_a_shipper_row_has_rates_since_the_previous_scrape_and_its_gauges() -> None:
    first = row_of(_shipper(10.0, 100, 90), None)
    assert (first.kind, first.status, first.in_per_s, first.out_per_s) == (
        "shipper",
        "up",
        None,
        None,
    )
    row = row_of(_shipper(12.0, 300, 250), _shipper(10.0, 100, 90))
    assert row == Row("h:1", "shipper", "up", 100.0, 80.0, 3072.0, 2.0, 3.0, None)


def test_a_restarted_shipper_has_no_rate_rather_than_a_negative_one() -> None:
    assert row_of(_shipper(12.0, 5, 5), _shipper(10.0, 100, 90)).in_per_s is None


def test_a_shipper_whose_output_is_down_says_so() -> None:
    assert row_of(_shipper(1.0, 0, 0, up=0), None).status == "output down"


def test_an_indexer_row_counts_duplicates_as_written_and_sums_lag_and_dead_letters() -> None:
    before = snapshot_of("h:2", 0.0, _INDEXER.format(consumed=0, indexed=0, es_up=1))
    after = snapshot_of("h:2", 1.0, _INDEXER.format(consumed=50, indexed=40, es_up=0))
    row = row_of(after, before)
    assert row == Row("h:2", "indexer", "elasticsearch down", 50.0, 40.0, 12.0, None, 2.0, 1.0)


def test_a_target_without_logferry_metrics_or_unreachable_is_named() -> None:
    other = snapshot_of("h:3", 0.0, "# TYPE up gauge\nup 1\n")
    assert row_of(other, None).status == "no logferry metrics"
    assert row_of(Snapshot("h:4", 0.0, error="refused"), None).status == "unreachable: refused"


@pytest.mark.parametrize(
    ("cmdline", "role"),
    [
        (["/venv/bin/python", "-m", "shipper", "run", "--config", "s.yml"], "shipper"),
        (["/venv/bin/python", "/venv/bin/shipper", "index"], "indexer"),
        (["shipper", "run"], "shipper"),
        (["/venv/bin/shipper", "search", "error"], None),
        (["python", "-m", "loadtest", "run", "--shipper", "shipper"], None),
        (["vim", "notes/shipper", "run"], None),
    ],
)
def test_logferry_role(cmdline: list[str], role: str | None) -> None:
    assert logferry_role(cmdline) == role


def test_the_table_shows_every_column_and_says_how_to_quit() -> None:
    rows = [
        row_of(_shipper(2.0, 300, 250), _shipper(1.0, 100, 90)),
        row_of(snapshot_of("h:2", 0.0, _INDEXER.format(consumed=0, indexed=0, es_up=1)), None),
    ]
    console = Console(width=140, record=True, color_system=None)
    console.print(table_of(rows, interval_s=1.0, live=True))
    text = console.export_text()
    assert "1 shipper(s), 1 indexer(s)" in text
    assert "q or Ctrl-C quits" in text
    shipper_line = next(line for line in text.splitlines() if "h:1" in line)
    assert [c.strip() for c in shipper_line.split("│")[3:10]] == [
        "up", "200", "160", "3.0 KiB", "2", "3", "-"
    ]  # fmt: skip
    indexer_line = next(line for line in text.splitlines() if "h:2" in line)
    assert [c.strip() for c in indexer_line.split("│")[3:10]] == [
        "up", "-", "-", "12 rec", "-", "2", "1"
    ]  # fmt: skip


def test_top_into_a_pipe_prints_one_table_and_names_an_unreachable_target() -> None:
    from click.testing import CliRunner

    from shipper.cli import cli

    result = CliRunner().invoke(cli, ["top", "127.0.0.1:9", "--interval", "0.1"])
    assert result.exit_code == 0, result.output
    assert "127.0.0.1:9" in result.output
    assert "unreachable" in result.output
    assert "q or Ctrl-C quits" not in result.output  # not live
