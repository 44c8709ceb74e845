"""The scenarios `loadtest run --scenario NAME` knows, as plain data (no Locust import here)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from loadtest.scenarios.spec import Fault, Phase, Scenario

__all__ = ["SCENARIOS", "get"]

# A live shop fails now and then; the alerts must look past that.
_BACKGROUND_ERRORS: Final = MappingProxyType({"/checkout": Fault(error_rate=0.01)})

BASELINE: Final = Scenario(
    name="baseline",
    summary="Normal traffic with a trickle of checkout errors: no alert may fire.",
    phases=(
        Phase("ramp-up", 0.2, users=0.5, faults=_BACKGROUND_ERRORS),
        Phase("steady", 0.8, faults=_BACKGROUND_ERRORS),
    ),
    expect_quiet=("AppHighErrorRatio", "AppHighLatencyP95", "AppErrorLogBurst"),
    duration_s=60.0,
)

ERROR_SPIKE: Final = Scenario(
    name="error-spike",
    summary="40-60 % of the order and checkout requests fail with 5xx for a while.",
    phases=(
        Phase("warm-up", 0.3, faults=_BACKGROUND_ERRORS),
        Phase(
            "incident",
            0.5,
            faults=MappingProxyType(
                {
                    "/orders": Fault(error_rate=0.4),
                    "/orders/search": Fault(error_rate=0.4),
                    "/checkout": Fault(error_rate=0.6),
                }
            ),
            incident=True,
        ),
        Phase("recovery", 0.2, faults=_BACKGROUND_ERRORS),
    ),
    expect_firing=("AppHighErrorRatio", "AppErrorLogBurst"),
    expect_quiet=("AppHighLatencyP95",),
    duration_s=90.0,
)

LATENCY_SPIKE: Final = Scenario(
    name="latency-spike",
    summary="Listing and searching orders slow down to well over a second; nothing fails.",
    phases=(
        Phase("warm-up", 0.3),
        Phase(
            "incident",
            0.5,
            faults=MappingProxyType(
                {
                    "/orders": Fault(latency_ms=1500.0),
                    "/orders/search": Fault(latency_ms=1500.0),
                }
            ),
            incident=True,
        ),
        Phase("recovery", 0.2),
    ),
    expect_firing=("AppHighLatencyP95",),
    expect_quiet=("AppHighErrorRatio", "AppErrorLogBurst"),
    duration_s=90.0,
)

LOG_FLOOD: Final = Scenario(
    name="log-flood",
    summary="Every request writes 50 extra lines: the pipeline keeps up and loses nothing.",
    phases=(Phase("ramp-up", 0.15, users=0.5), Phase("flood", 0.85)),
    expect_quiet=("ShipperFallingBehind", "IndexerLagHigh", "ShipperPublishErrors"),
    duration_s=60.0,
    extra_log_lines=50,
)

# The alerts that a host or Elasticsearch incident sets off only through the pipeline.
_APP_ALERTS: Final = ("AppHighErrorRatio", "AppHighLatencyP95", "AppErrorLogBurst")

DISK_FILL: Final = Scenario(
    name="disk-fill",
    summary="A small filesystem the node exporter watches fills to 97 %; the app is fine.",
    phases=(
        Phase("warm-up", 0.2, faults=_BACKGROUND_ERRORS),
        Phase("incident", 0.65, faults=_BACKGROUND_ERRORS, incident=True),
        Phase("recovery", 0.15, faults=_BACKGROUND_ERRORS),
    ),
    expect_firing=("HostDiskSpaceLow", "HostDiskWillFillSoon"),
    expect_quiet=(*_APP_ALERTS, "HostMemoryHigh"),
    # The machine running the test may be busy with more than this run.
    may_fire=("HostCpuHigh",),
    duration_s=90.0,
    incident="disk-fill",
    watches_host=True,
)

CPU_BURN: Final = Scenario(
    name="cpu-burn",
    summary="Every CPU of the host is kept busy (at low priority) while traffic flows.",
    phases=(
        Phase("warm-up", 0.15, faults=_BACKGROUND_ERRORS),
        Phase("incident", 0.75, faults=_BACKGROUND_ERRORS, incident=True),
        Phase("recovery", 0.1, faults=_BACKGROUND_ERRORS),
    ),
    expect_firing=("HostCpuHigh",),
    expect_quiet=("HostDiskSpaceLow", "HostMemoryHigh", "AppHighErrorRatio"),
    # A starved host slows the app and the pipeline too: that is the point of the alert. The
    # fast profile looks at 4 minutes of the root disk's trend: the test machine's own writes
    # may extrapolate to full within the (unscaled) 4 hours.
    may_fire=(
        "AppHighLatencyP95",
        "ShipperFallingBehind",
        "IndexerLagHigh",
        "HostDiskWillFillSoon",
    ),
    duration_s=100.0,
    incident="cpu-burn",
    watches_host=True,
)

ES_FLOOD_STAGE: Final = Scenario(
    name="es-flood-stage",
    summary="Elasticsearch's disk passes its (lowered) flood stage: indices turn read-only, the "
    "indexer holds and retries; after the restore every line is there exactly once.",
    phases=(
        Phase("warm-up", 0.2, faults=_BACKGROUND_ERRORS),
        Phase("incident", 0.5, faults=_BACKGROUND_ERRORS, incident=True),
        Phase("recovery", 0.3, faults=_BACKGROUND_ERRORS),
    ),
    expect_firing=("ElasticsearchIndexWriteBlocked", "ElasticsearchDiskHighWatermark"),
    expect_quiet=("DeadLettersAppearing", *_APP_ALERTS),
    # Bulk items come back 429 while blocked; lag builds up meanwhile.
    may_fire=("IndexerBulkRejections", "IndexerLagHigh"),
    duration_s=100.0,
    incident="es-flood-stage",
)

SCENARIOS: Final = MappingProxyType(
    {
        s.name: s
        for s in (
            BASELINE,
            ERROR_SPIKE,
            LATENCY_SPIKE,
            LOG_FLOOD,
            DISK_FILL,
            CPU_BURN,
            ES_FLOOD_STAGE,
        )
    }
)


def get(name: str) -> Scenario:
    """The scenario called *name*; a clear error naming the known ones otherwise."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(f"no scenario {name!r}; known: {', '.join(SCENARIOS)}") from None
