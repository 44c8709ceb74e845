"""Prometheus' text exposition, read the way Prometheus reads it: one parser for every test.

The samples come from :func:`prometheus_client.parser.text_string_to_metric_families`, so a
test never splits lines by hand. A series a test asks for and the text does not hold is a
failure that names it (and shows what is there), never a silent 0: a misspelt name or label
must not let an ``== 0`` assertion pass. A test for which "absent" legitimately means "zero"
says so with ``default=0.0``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

__all__ = ["sample_value", "samples", "series"]


def samples(exposition: str) -> list[Sample]:
    """Every sample of *exposition*, under its own name (``…_total``, ``…_bucket``, ``…_created``)."""
    return [
        sample for family in text_string_to_metric_families(exposition) for sample in family.samples
    ]


def series(sample: Sample) -> str:
    """``name{label="value",…}``, labels sorted (as an error message shows it)."""
    if not sample.labels:
        return sample.name
    labels = ",".join(f'{key}="{value}"' for key, value in sorted(sample.labels.items()))
    return f"{sample.name}{{{labels}}}"


def sample_value(
    exposition: str,
    name: str,
    labels: Mapping[str, str] | None = None,
    *,
    default: float | None = None,
) -> float:
    """The value of the series *name* whose labels include *labels*; several such are summed.

    *name* is a sample's name as exposed (``logferry_shipper_events_published_total``,
    ``…_seconds_count``). Without *labels*, every series of that name counts (e.g. a gauge kept
    per partition). When no series matches, an :class:`AssertionError` names the one asked for
    and lists those of that name that exist (or similar names, when there is none) — unless
    *default* is given, which is then returned: pass it only where absent means zero.
    """
    wanted = dict(labels or {})
    every = samples(exposition)
    found = [
        sample
        for sample in every
        if sample.name == name and all(sample.labels.get(k) == v for k, v in wanted.items())
    ]
    if found:
        return sum(sample.value for sample in found)
    if default is not None:
        return default
    asked = series(Sample(name, wanted, 0.0))
    same_name = [f"{series(s)} {s.value}" for s in every if s.name == name]
    if same_name:
        raise AssertionError(
            f"no series {asked} in the exposition; the series of {name}:\n  "
            + "\n  ".join(same_name)
        )
    similar = difflib.get_close_matches(name, sorted({s.name for s in every}), n=5)
    hint = f"; similar names: {', '.join(similar)}" if similar else ""
    raise AssertionError(f"no metric named {name} in the exposition{hint}")
