"""A fast profile of the alert rules and the Alertmanager config, derived from the real files. Pure.

The production rules look at ``rate(...[5m])`` and wait ``for: 2m``: proving with real traffic
that an alert fires would take a quarter of an hour per scenario. The load tester instead runs
Prometheus with a 1 s scrape/evaluation interval and these functions' output: every window and
every wait divided by one factor, everything else — exprs' structure, thresholds, labels,
annotations, routes, grouping, inhibit rules — exactly as the repository's files say. There is
no second, hand-kept copy of the rules that could drift from the real ones.

* :func:`fast_rules` — ``dashboards/prometheus/alerts.yml`` with range windows (``[5m]``),
  subquery ranges and steps (``[5m:30s]``), ``offset``, ``for:``, ``keep_firing_for:`` and group
  ``interval:`` divided by the factor. Windows never go below ``min_window_s``: a ``rate()``
  needs several samples in its window.
* :func:`fast_alertmanager` — ``dashboards/alertmanager/alertmanager.yml`` with every receiver
  sending to the load tester's webhook recorder and the route tree's waits shortened.
* :func:`alert_names`, :func:`alert_exprs`, :func:`split_threshold` (an alert's value and
  threshold, for the HTML report), :func:`parse_duration`, :func:`format_duration` — helpers.

Every function raises :class:`ValueError`, with a message naming what is wrong, for input that
is not what it expects.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import quote

import yaml

__all__ = [
    "alert_exprs",
    "alert_names",
    "fast_alertmanager",
    "fast_rules",
    "format_duration",
    "parse_duration",
    "split_threshold",
]

# Prometheus's duration units, largest first (a year is 365 days there, a week 7).
_UNITS_MS: Final = (
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
)
_UNIT_MS: Final = dict(_UNITS_MS)
# Prometheus's grammar: units in decreasing order, each at most once (``1h30m``, not ``30m1h``).
_DURATION_RE: Final = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
# A duration inside an expr; `ms` before `m`, or `5ms` would read as 5 minutes and an `s`.
_DUR: Final = r"\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*"
# One left-to-right scan of an expr. Strings and comments are matched first so that a label
# value such as "[5m]" is skipped, not scaled; `other` catches any bracket this module does
# not understand, which must fail loudly rather than leave a production window in place.
_EXPR_TOKEN_RE: Final = re.compile(
    rf"""(?P<skip>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`|\#[^\n]*)
       |\[\s*(?P<range>{_DUR})\s*(?::\s*(?P<step>{_DUR})?\s*)?\]
       |\b(?i:offset)\s+(?P<sign>-?)\s*(?P<offset>{_DUR})\b
       |(?P<other>\[[^\]]*\])""",
    re.VERBOSE,
)
# Subquery steps finer than the load tester's 1 s scrape interval buy nothing.
_MIN_STEP_S: Final = 1.0
# Nor do rule groups evaluated more often than that.
_MIN_GROUP_INTERVAL_S: Final = 1.0


def parse_duration(text: str) -> float:
    """A Prometheus duration (``"1h30m"``, ``"500ms"``, ``"0"``) in seconds."""
    text = text.strip()
    if text == "0":  # Prometheus accepts a bare zero
        return 0.0
    match = _DURATION_RE.match(text)
    if not text or match is None:
        raise ValueError(
            f"{text!r} is not a Prometheus duration (like 30s, 5m, 1h30m, 500ms; "
            "units y w d h m s ms, largest first)"
        )
    total_ms = sum(
        int(value) * ms
        for value, (_, ms) in zip(match.groups(), _UNITS_MS, strict=True)
        if value is not None
    )
    return total_ms / 1000


def format_duration(seconds: float) -> str:
    """*seconds* as a Prometheus duration, to the millisecond: ``90`` → ``"1m30s"``, ``0.25`` → ``"250ms"``."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a duration must be a finite number >= 0, not {seconds!r}")
    remaining = round(seconds * 1000)
    if remaining == 0:
        return "0s"
    parts = []
    for unit, ms in _UNITS_MS:
        count, remaining = divmod(remaining, ms)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def alert_names(rules_yaml: str) -> list[str]:
    """The names of the alerting rules of a Prometheus rules file, in file order."""
    return [
        rule["alert"]
        for group in _rule_groups(_load(rules_yaml, "rules file"))
        for rule in group["rules"]
        if "alert" in rule
    ]


def alert_exprs(rules_yaml: str) -> dict[str, str]:
    """Each alerting rule's expr by alert name (the first rule of a name, in file order)."""
    exprs: dict[str, str] = {}
    for group in _rule_groups(_load(rules_yaml, "rules file")):
        for rule in group["rules"]:
            if "alert" in rule:
                exprs.setdefault(rule["alert"], rule["expr"])
    return exprs


_THRESHOLD_RE: Final = re.compile(
    r"^(?P<value>.+?)\s*(?P<op>>=|<=|==|!=|>|<)\s*(?:bool\s+)?(?P<threshold>[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*$",
    re.DOTALL,
)
_COMPARISON_RE: Final = re.compile(r"(?:[<>!=]=|[<>])|\b(?:and|or|unless)\b")


def split_threshold(expr: str) -> tuple[str, str, float] | None:
    """``"rate(x[5m]) > 0.05"`` → ``("rate(x[5m])", ">", 0.05)``: an alert expr that compares one
    value with a literal threshold, split in two; None for any other shape (``a == 0 or b == 0``)."""
    match = _THRESHOLD_RE.match(expr.strip())
    if match is None:
        return None
    value = match["value"].strip()
    # Label matchers and strings may hold `=~`, `!=` or `>`; the value itself must compare nothing.
    bare = _EXPR_TOKEN_RE.sub("", re.sub(r"\{[^}]*\}", "", value))
    if _COMPARISON_RE.search(bare):
        return None
    return value, match["op"], float(match["threshold"])


def fast_rules(rules_yaml: str, factor: float, *, min_window_s: float = 10.0) -> str:
    """The rules file with every window and wait divided by *factor* (see the module docstring).

    ``factor=15`` turns ``[5m]`` into ``[20s]``, ``for: 2m`` into ``for: 8s``. Range windows
    become at least *min_window_s* (with a 1 s scrape interval, 10 s holds about ten samples);
    waits (``for``, ``keep_firing_for``, ``offset``) have no floor.
    """
    if not math.isfinite(factor) or factor <= 0:
        raise ValueError(f"factor must be a finite number > 0, not {factor!r}")
    if not math.isfinite(min_window_s) or min_window_s < 0:
        raise ValueError(f"min_window_s must be a finite number >= 0, not {min_window_s!r}")
    document = _load(rules_yaml, "rules file")
    for group in _rule_groups(document):
        where = f"group {group['name']!r}"
        if "interval" in group:
            group["interval"] = _scaled_duration(
                group["interval"], factor, f"{where}: interval", floor_s=_MIN_GROUP_INTERVAL_S
            )
        for rule in group["rules"]:
            name = rule.get("alert") or rule.get("record")
            rule_where = f"{where}, rule {name!r}"
            rule["expr"] = _scale_expr(rule["expr"], factor, min_window_s, rule_where)
            for key in ("for", "keep_firing_for"):
                if key in rule:
                    rule[key] = _scaled_duration(rule[key], factor, f"{rule_where}: {key}")
    return _dump(document)


def fast_alertmanager(
    config_yaml: str,
    webhook_url: str,
    *,
    group_wait_s: float = 1,
    group_interval_s: float = 2,
    repeat_interval: str = "1h",
) -> str:
    """The Alertmanager config with every receiver posting to *webhook_url*/<receiver name>.

    The route tree's ``group_wait``/``group_interval``/``repeat_interval`` (the root's always,
    a child's where it sets its own) become the given ones, so a notification follows an alert
    within seconds and is not repeated during a run. Routes, matchers, grouping and inhibit
    rules are kept as written: they are what the load test verifies.

    A load test must never page a human: receivers lose their other integrations (email,
    Slack, ...) and get one webhook to the recorder instead; webhook configs keep only
    ``send_resolved`` and ``max_alerts`` (a production ``http_config`` with credentials or a
    proxy has no business with the local recorder). A receiver without any integration (a
    deliberate blackhole) stays one.
    """
    if not webhook_url.startswith(("http://", "https://")):
        raise ValueError(f"webhook_url must be an http(s) URL, not {webhook_url!r}")
    if group_wait_s < 0 or group_interval_s <= 0:
        raise ValueError("group_wait_s must be >= 0 and group_interval_s > 0")
    if parse_duration(repeat_interval) <= 0:
        raise ValueError(f"repeat_interval must be > 0, not {repeat_interval!r}")
    config = _load(config_yaml, "Alertmanager config")
    route, receivers = config.get("route"), config.get("receivers")
    if not isinstance(route, dict) or not isinstance(receivers, list):
        raise ValueError("not an Alertmanager config: it needs a `route` and a `receivers` list")
    base = webhook_url.rstrip("/")
    for receiver in receivers:
        if not isinstance(receiver, dict) or not isinstance(receiver.get("name"), str):
            raise ValueError(f"receiver without a name: {receiver!r}")
        _redirect_receiver(receiver, f"{base}/{quote(receiver['name'], safe='')}")
    timing = {
        "group_wait": format_duration(group_wait_s),
        "group_interval": format_duration(group_interval_s),
        "repeat_interval": format_duration(parse_duration(repeat_interval)),
    }
    route.update(timing)  # the root's apply to every child that does not set its own
    _walk_routes(route.get("routes"), lambda child: _override(child, timing))
    return _dump(config)


# -- rules ------------------------------------------------------------------------------------


def _rule_groups(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The groups of a rules file, checked deep enough that the callers can index freely."""
    groups = document.get("groups")
    if not isinstance(groups, list):
        raise ValueError("not a Prometheus rules file: it needs a top-level `groups` list")
    for group in groups:
        if not isinstance(group, dict) or not isinstance(group.get("name"), str):
            raise ValueError(f"rule group without a name: {group!r}")
        rules = group.get("rules")
        if not isinstance(rules, list):
            raise ValueError(f"group {group['name']!r} has no `rules` list")
        for rule in rules:
            if (
                not isinstance(rule, dict)
                or not isinstance(rule.get("expr"), str)
                or ("alert" in rule) == ("record" in rule)
            ):
                raise ValueError(
                    f"group {group['name']!r}: not a rule (needs `expr` and one of "
                    f"`alert`/`record`): {rule!r}"
                )
    return groups


def _scale_expr(expr: str, factor: float, min_window_s: float, where: str) -> str:
    """*expr* with range windows, subquery steps and offsets divided by *factor*."""

    def replace(match: re.Match[str]) -> str:
        if match["skip"] is not None:
            return match[0]
        if match["other"] is not None:
            raise ValueError(f"{where}: cannot scale the range {match[0]!r} in {expr!r}")
        if match["offset"] is not None:
            offset = format_duration(parse_duration(match["offset"]) / factor)
            return f"offset {match['sign']}{offset}"
        window = format_duration(max(parse_duration(match["range"]) / factor, min_window_s))
        if match["step"] is None:
            # `[5m:]` is a subquery at the default resolution: keep the colon.
            return f"[{window}:]" if ":" in match[0] else f"[{window}]"
        step = format_duration(max(parse_duration(match["step"]) / factor, _MIN_STEP_S))
        return f"[{window}:{step}]"

    return _EXPR_TOKEN_RE.sub(replace, expr)


def _scaled_duration(value: object, factor: float, where: str, *, floor_s: float = 0.0) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: {value!r} is not a duration string")
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    # A zero wait stays zero: the floor is for intervals, which must not become 0.
    return format_duration(max(seconds / factor, floor_s) if seconds else 0.0)


# -- Alertmanager -----------------------------------------------------------------------------


def _redirect_receiver(receiver: dict[str, Any], url: str) -> None:
    integrations = [key for key in receiver if key.endswith("_configs")]
    if not integrations:
        return
    kept = [
        {
            "url": url,
            **{key: hook[key] for key in ("send_resolved", "max_alerts") if key in hook},
        }
        for hook in receiver.get("webhook_configs") or []
        if isinstance(hook, dict)
    ]
    for key in integrations:
        del receiver[key]
    receiver["webhook_configs"] = kept or [{"url": url, "send_resolved": True}]


def _walk_routes(routes: object, visit: Callable[[dict[str, Any]], None]) -> None:
    if routes is None:
        return
    if not isinstance(routes, list):
        raise ValueError(f"`routes` must be a list, not {routes!r}")
    for child in routes:
        if not isinstance(child, dict):
            raise ValueError(f"a route must be a mapping, not {child!r}")
        visit(child)
        _walk_routes(child.get("routes"), visit)


def _override(route: dict[str, Any], timing: dict[str, str]) -> None:
    for key, value in timing.items():
        if key in route:
            route[key] = value


# -- YAML -------------------------------------------------------------------------------------


def _load(text: str, what: str) -> dict[str, Any]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"not a {what}: invalid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise ValueError(f"not a {what}: expected a mapping at the top level")
    return document


class _BlockDumper(yaml.SafeDumper):
    """SafeDumper writing multi-line strings as ``|`` blocks: a human debugging a run reads
    the derived exprs the way they are written in the source file."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _represent_str)


def _dump(document: dict[str, Any]) -> str:
    # yaml.safe_dump with a dumper that only changes how multi-line strings look.
    return yaml.dump(document, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100)
