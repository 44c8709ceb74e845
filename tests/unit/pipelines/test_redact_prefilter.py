"""redact's per-line pre-check: when it says "nothing to redact", redacting changes nothing.

The compiled step (:meth:`pipelines.redact.Redact.compile`) skips the walk of an app object when
:meth:`~pipelines.redact.Redact._may_change` answers no, from one pass over
``orjson.dumps(values)``. That must be conservative: these tests generate values built from the
pieces every rule looks for (and the escapes JSON may hide them behind), and check that
whenever the pre-check answers no, the full stage leaves the event as it was.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.redact import Redact, RedactConfig

_PIECES = [
    "Bearer ",
    "basic ",
    "BASIC\t",
    "bearer",
    "password=",
    "PassWord",
    "pwd:",
    "api_key: ",
    "apiKey=",
    "x-api-key",
    "secret",
    "token",
    "credential",
    "Credentials '",
    "=",
    ":",
    " ",
    "-",
    "_",
    ".",
    "/",
    "'",
    '"',
    "\\",
    "\n",
    "\t",
    "\u00a0",
    "\u2003",
    "\x85",
    "\u0130",
    "K",
    "\u212a",
    "@",
    "a@b.co",
    "bob@example.com",
    "://user:pw@host",
    "https://",
    "sk_live_",
    "rk_test_",
    "ghp_",
    "github_pat_",
    "xoxb-",
    "glpat-",
    "AKIA",
    "AIza",
    "eyJ",
    "{",
    "[",
    "4111",
    "1111",
    "4111111111111111",
    "378282246310005",
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "3782 822463 10005",
    "5555555555554444",
    "140528895302528",
    "2024-05-01 12:00:00",
    "0",
    "1",
    "2",
    "9",
    "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "[REDACTED]",
    "pass=",
    "Pass: ",
    "passcode",
    "Token ",
    "Digest ",
    "DIGEST ",
    'username="bob", response="ab"',
    "Authorization",
    "proxy-authorization",
    "Cookie",
    "set-cookie",
    '"name": "',
    '", "value": "',
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----",
    "PRIVATE KEY",
    "4111.1111.1111.1111",
    "用户@例子.广告",
    "josé@bücher.de",
    "x@xn--p1ai.xn--p1ai",
]
_TEXT = st.lists(st.sampled_from(_PIECES), max_size=8).map("".join) | st.text(max_size=30)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([4111111111111111, 378282246310005, 140528895302528, 5555555555554444]),
    st.sampled_from([4111111111111111.0, 4.111111111111111e15, 378282246310005.0, 1e16]),
    _TEXT,
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["password", "note", "token", "a"]), inner, max_size=3)
    ),
    max_leaves=5,
)
_KEYS = ["message", "note", "path", "level", "count", "user", "x", "thread", "max_tokens"]
_CONFIGS = [
    RedactConfig(),
    RedactConfig(emails=False),
    RedactConfig(tokens=False, cards=False),
    RedactConfig(sensitive_keys=False),
    RedactConfig(replacement="***"),
]


def _event(app: dict[str, Any]) -> dict[str, Any]:
    return {
        "@timestamp": "2024-05-01T12:00:00.000Z",
        "app": app,
        "log": {"file": {"path": "/x"}, "offset": 0},
        "event": {"id": "1", "created": "2024-05-01T12:00:00.000Z"},
    }


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    config=st.sampled_from(_CONFIGS),
    app=st.dictionaries(st.sampled_from(_KEYS), _VALUES, min_size=1, max_size=6),
)
def test_a_miss_means_nothing_to_redact(config: RedactConfig, app: dict[str, Any]) -> None:
    stage = Redact(config)
    if stage._may_change(tuple(app.values())):
        return
    event = _event(app)
    before = copy.deepcopy(event)
    assert stage(event) == before


@settings(max_examples=300, deadline=None)
@given(app=st.dictionaries(st.sampled_from(_KEYS), _SCALARS, min_size=1, max_size=6))
def test_compiled_and_generic_redact_agree(app: dict[str, Any]) -> None:
    stage = Redact()
    fields = frozenset({"@timestamp", "log.file.path", "log.offset", "event.id", "event.created"})
    compiled = stage.compile(tuple(app), fields)
    assert compiled is not None
    generic = stage(_event(copy.deepcopy(app)))
    event = _event(copy.deepcopy(app))
    compiled.step(event, event["app"])
    assert event == generic


def test_usual_values_pass() -> None:
    """What a request log line holds asks for no walk (else the pre-check would be no help)."""
    stage = Redact()
    values = (
        "INFO",
        "shop.web",
        "GET /api/orders/12345 200",
        "views.py",
        "handle",
        87,
        4242,
        "MainProcess",
        140528895302528,
        "MainThread",
        "GET",
        "/api/orders/12345",
        200,
        12.5,
        "9f86d081884c7d65",
        "u-4711",
        "5f0c8e4e-7b1a-4d4e-9a3b-1c2d3e4f5a6b",
        "/orders/{id}",  # a route template, as in the benchmark's lines
        "GET /orders/{id} -> 200",
        "retrying [attempt 2]",
    )
    assert not stage._may_change(values)


def test_what_asks_for_the_walk() -> None:
    stage = Redact()
    for value in [
        "a@b.co",
        "Authorization: Bearer abcdefghijkl",
        "password=hunter2",
        "ghp_" + "a" * 36,
        "pay with 4111 1111 1111 1111",
        4111111111111111,
        "line\nbreak",
        'say "hi"',
        {"password": "p"},
        ["a"],
        [{"password": "p"}],
        [["a"]],
        2**70,
    ]:
        assert stage._may_change(("INFO", value)), value
        assert stage._may_change((value, "INFO")), value  # first among the values too
