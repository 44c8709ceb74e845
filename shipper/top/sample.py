"""One scrape of a shipper's or an indexer's /metrics, and a row of the view from two. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Row", "Snapshot", "row_of", "snapshot_of"]

Kind = Literal["shipper", "indexer", "?"]

# What each column is made of: sample names (as exposed) added up, per kind.
_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "shipper": {
        "in": ("logferry_shipper_lines_read_total",),
        "out": ("logferry_shipper_events_published_total",),
        "lag": ("logferry_shipper_file_lag_bytes",),
        "open_files": ("logferry_shipper_open_files",),
        "errors": ("logferry_shipper_events_failed_total",),
        "dead_letters": (),
    },
    "indexer": {
        "in": ("logferry_indexer_records_consumed_total",),
        "out": (
            "logferry_indexer_documents_indexed_total",
            "logferry_indexer_documents_duplicate_total",
        ),
        "lag": ("logferry_indexer_consumer_lag_records",),
        "open_files": (),
        "errors": (
            "logferry_indexer_bulk_failures_total",
            "logferry_indexer_commit_failures_total",
        ),
        "dead_letters": ("logferry_indexer_dead_letters_total",),
    },
}
# A dependency reported down: (sample, what to say).
_DOWN = {
    "shipper": (("logferry_shipper_output_up", "output down"),),
    "indexer": (
        ("logferry_indexer_kafka_up", "kafka down"),
        ("logferry_indexer_elasticsearch_up", "elasticsearch down"),
    ),
}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A target's metrics at one moment (monotonic seconds), summed by sample name; or why
    there are none."""

    address: str
    at: float
    values: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    @property
    def kind(self) -> Kind:
        """Which logferry process exposes these metrics."""
        if any(name.startswith("logferry_shipper_") for name in self.values):
            return "shipper"
        if any(name.startswith("logferry_indexer_") for name in self.values):
            return "indexer"
        return "?"

    def total(self, names: Iterable[str]) -> float | None:
        """The sum of *names*; None when none of them is exposed."""
        found = [self.values[name] for name in names if name in self.values]
        return sum(found) if found else None


def snapshot_of(address: str, at: float, exposition: str) -> Snapshot:
    """The snapshot of one scrape's text."""
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            values[sample.name] = values.get(sample.name, 0.0) + sample.value
    return Snapshot(address, at, values)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the view; None where a column does not apply or is not known yet."""

    address: str
    kind: Kind
    status: str
    in_per_s: float | None = None
    out_per_s: float | None = None
    lag: float | None = None
    open_files: float | None = None
    errors: float | None = None
    dead_letters: float | None = None


def row_of(current: Snapshot, previous: Snapshot | None) -> Row:
    """The row of *current*; the rates need the *previous* snapshot of the same target."""
    if current.error is not None:
        return Row(current.address, "?", f"unreachable: {current.error}")
    kind = current.kind
    if kind == "?":
        return Row(current.address, kind, "no logferry metrics")
    columns = _COLUMNS[kind]
    down = [text for name, text in _DOWN[kind] if current.values.get(name, 1.0) == 0]
    return Row(
        current.address,
        kind,
        ", ".join(down) or "up",
        in_per_s=_rate(current, previous, columns["in"]),
        out_per_s=_rate(current, previous, columns["out"]),
        lag=current.total(columns["lag"]),
        open_files=current.total(columns["open_files"]),
        errors=current.total(columns["errors"]),
        dead_letters=current.total(columns["dead_letters"]),
    )


def _rate(current: Snapshot, previous: Snapshot | None, names: tuple[str, ...]) -> float | None:
    if previous is None or previous.error is not None or current.at <= previous.at:
        return None
    now, before = current.total(names), previous.total(names)
    if now is None or before is None or now < before:  # a restart resets counters
        return None
    return (now - before) / (current.at - previous.at)
