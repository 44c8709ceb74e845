"""redact: secrets and personal data never leave the process; order numbers do."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines import Pipeline, RawLine, tags
from pipelines.errors import PipelineConfigError
from pipelines.redact import Redact, RedactConfig, luhn_valid

VISA = "4111111111111111"
AMEX = "378282246310005"


def redact(app: dict[str, Any], config: RedactConfig | None = None, **event: Any) -> dict[str, Any]:
    return Redact(config)({"app": app, **event})


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "db_password",
        "passwd",
        "PASSWORD",
        "pwd",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "accessToken",
        "csrf-token",
        "api_key",
        "apiKey",
        "X-Api-Key",
        "Authorization",
        "proxy_authorization",
        "cookie",
        "Set-Cookie",
        "credentials",
        "private_key",
        "card_number",
        "cvv",
    ],
)
def test_sensitive_keys(key: str) -> None:
    event = redact({key: "s3cr3t-value", "other": "fine"})
    assert event["app"] == {key: "[REDACTED]", "other": "fine"}
    assert event["tags"] == [tags.REDACTED]


@pytest.mark.parametrize(
    "key", ["max_tokens", "token_count", "keyboard", "passenger", "author", "monkey"]
)
def test_keys_that_only_look_sensitive(key: str) -> None:
    event = redact({key: "value"})
    assert event["app"] == {key: "value"}
    assert "tags" not in event


def test_nested_and_any_type() -> None:
    event = redact(
        {
            "request": {"headers": {"Authorization": "Bearer x", "Accept": "json"}},
            "items": [{"password": 1234}, {"ok": "yes"}],
            "secret": {"a": 1},
            "token": None,
            "is_secret": True,
        }
    )
    assert event["app"] == {
        "request": {"headers": {"Authorization": "[REDACTED]", "Accept": "json"}},
        "items": [{"password": "[REDACTED]"}, {"ok": "yes"}],
        "secret": "[REDACTED]",
        "token": None,
        "is_secret": True,
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail bob.smith+x@example.co.uk now", "mail [REDACTED:email] now"),
        ("Authorization: Bearer abcdef0123456789.xyz", "Authorization: Bearer [REDACTED:token]"),
        ("auth=Basic dXNlcjpwYXNzd29yZA==", "auth=Basic [REDACTED:token]"),
        ("GET /cb?api_key=abc123&x=1", "GET /cb?api_key=[REDACTED:token]&x=1"),
        ("password: hunter2 ok", "password: [REDACTED:token] ok"),
        ('{"token": "t0k"}', '{"token": "[REDACTED:token]"}'),
        ("key sk_live_4eC39HqLyjWDarjtT1zdp7dc used", "key [REDACTED:token] used"),
        ("AKIAIOSFODNN7EXAMPLE", "[REDACTED:token]"),
        ("ghp_" + "a" * 36, "[REDACTED:token]"),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "[REDACTED:token]",
        ),
        ("postgres://app:s3cret@db:5432/x", "postgres://app:[REDACTED:token]@db:5432/x"),
        (f"card {VISA} charged", "card [REDACTED:card] charged"),
        ("card 4111 1111 1111 1111 charged", "card [REDACTED:card] charged"),
        ("card 4111-1111-1111-1111", "card [REDACTED:card]"),
        (f"amex {AMEX[:4]} {AMEX[4:10]} {AMEX[10:]}", "amex [REDACTED:card]"),
        (f"2024-05-01 {VISA}", "2024-05-01 [REDACTED:card]"),
    ],
)
def test_values(text: str, expected: str) -> None:
    event = redact({"message": text})
    assert event["app"]["message"] == expected
    assert event["tags"] == [tags.REDACTED]


@pytest.mark.parametrize(
    "text",
    [
        "order 4111111111111112 shipped",  # fails Luhn
        "order 1234567890123452 shipped",  # Luhn-valid, but no card starts with 1
        "ts 1714564800123 ms",
        "2024-05-01 12:00:00,123",
        "no secrets here: status=ok",
        "the key to success",
        "an @ sign alone",
        "GET /api/orders/12345 200",
    ],
)
def test_values_left_alone(text: str) -> None:
    event = redact({"message": text})
    assert event["app"]["message"] == text
    assert "tags" not in event


def test_card_numbers_as_integers() -> None:
    assert redact({"n": int(VISA)})["app"]["n"] == "[REDACTED:card]"
    assert redact({"n": 4111111111111112})["app"]["n"] == 4111111111111112


def _luhn_complete(prefix: str) -> str:
    for check in "0123456789":
        if luhn_valid(prefix + check):
            return prefix + check
    raise AssertionError


@given(st.integers(12, 18), st.sampled_from("3456"), st.randoms(use_true_random=False))
def test_luhn_valid_cards_are_redacted(length: int, first: str, rng: random.Random) -> None:
    card = _luhn_complete(first + "".join(rng.choice("0123456789") for _ in range(length - 1)))
    event = redact({"message": f"paid with {card}."})
    assert event["app"]["message"] == "paid with [REDACTED:card]."


@given(st.integers(12, 18), st.randoms(use_true_random=False))
def test_non_luhn_numbers_are_kept(length: int, rng: random.Random) -> None:
    number = "4" + "".join(rng.choice("0123456789") for _ in range(length))
    if luhn_valid(number):
        number = number[:-1] + str((int(number[-1]) + 1) % 10)
    event = redact({"message": f"order {number}"})
    assert event["app"]["message"] == f"order {number}"


def test_skip_fields_are_not_scanned() -> None:
    event = Redact()({"@timestamp": "x", "event": {"id": VISA}, "message": "bob@example.com"})
    assert event["event"]["id"] == VISA
    assert event["message"] == "[REDACTED:email]"


def test_switches_and_extras() -> None:
    config = RedactConfig(
        emails=False,
        cards=False,
        tokens=False,
        sensitive_keys=False,
        extra_key_patterns=["^session_id$"],
        extra_patterns={"iban": r"\bDE\d{20}\b"},
        replacement="***",
    )
    event = redact(
        {
            "message": f"bob@example.com {VISA} token=x DE89370400440532013000",
            "password": "p",
            "session_id": "s",
        },
        config,
    )
    assert event["app"] == {
        "message": f"bob@example.com {VISA} token=x ***:iban",
        "password": "p",
        "session_id": "***",
    }


def test_repeated_strings_are_remembered_but_still_redacted_when_needed() -> None:
    stage = Redact()
    for _ in range(3):
        assert stage({"message": "plain"})["message"] == "plain"
        assert stage({"message": "x@example.com"})["message"] == "[REDACTED:email]"


def test_huge_values_are_linear() -> None:
    text = "a" * 500_000 + "@" + "b" * 500_000  # would be quadratic with a naive e-mail regex
    assert redact({"message": text})["app"]["message"] == text


@given(st.text(max_size=200))
def test_never_raises(text: str) -> None:
    redact({"message": text, "nested": [text, {"token": text}]})


@pytest.mark.parametrize(
    ("stage", "key"),
    [
        ({"extra_patterns": {"Bad Name": "x"}}, "extra_patterns"),
        ({"extra_patterns": {"empty": "x*"}}, "extra_patterns"),
        ({"extra_patterns": {"bad": "("}}, "extra_patterns"),
        ({"extra_key_patterns": ["("]}, "extra_key_patterns"),
        ({"skip_fields": ["a..b"]}, "skip_fields"),
        ({"emails": "maybe"}, "emails"),
    ],
)
def test_bad_config(stage: dict[str, Any], key: str) -> None:
    with pytest.raises(PipelineConfigError, match=rf"pipeline\[0\]\.{key}"):
        Pipeline.from_config([{"type": "redact", **stage}])


# Issue 11, item 10: the probes redaction used to miss, each caught by the default config.
_PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAvZ2fMpl3sQk2b9C7n3XKJ0kE\n"
    "-----END RSA PRIVATE KEY-----"
)


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        pytest.param(
            {"message": "login pass=hunter2 ok"},
            {"message": "login pass=[REDACTED:token] ok"},
            id="pass= in text",
        ),
        pytest.param(
            {"message": "db_pass: hunter2"}, {"message": "db_pass: [REDACTED:token]"}, id="x_pass:"
        ),
        pytest.param({"pass": "hunter2"}, {"pass": "[REDACTED]"}, id="key pass"),
        pytest.param({"passcode": "4711"}, {"passcode": "[REDACTED]"}, id="key passcode"),
        pytest.param({"pin": 1234}, {"pin": "[REDACTED]"}, id="key pin"),
        pytest.param({"user_pin": "1234"}, {"user_pin": "[REDACTED]"}, id="key user_pin"),
        pytest.param(
            {"message": "Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"},
            {"message": "Authorization: Token [REDACTED:token]"},
            id="Authorization: Token in text",
        ),
        pytest.param(
            {"message": 'sent {"Authorization": "Token abc123def456", "Accept": "*/*"}'},
            {"message": 'sent {"Authorization": "Token [REDACTED:token]", "Accept": "*/*"}'},
            id="Authorization: Token in JSON in text",
        ),
        pytest.param(
            {
                "message": 'Authorization: Digest username="bob", realm="api", nonce="dcd98b", '
                'uri="/x", response="6629fae49393a05397450978507c4ef1"'
            },
            {"message": "Authorization: Digest [REDACTED:token]"},
            id="Authorization: Digest in text",
        ),
        pytest.param(
            {"message": 'retrying with Digest username="bob", response="6629fae4939"'},
            {"message": "retrying with Digest [REDACTED:token]"},
            id="Digest in text",
        ),
        pytest.param(
            {"headers": [{"name": "Authorization", "value": "Token abc"}, {"name": "Accept"}]},
            {"headers": [{"name": "Authorization", "value": "[REDACTED]"}, {"name": "Accept"}]},
            id="headers as name/value objects",
        ),
        pytest.param(
            {"tags": [{"Key": "db_password", "Value": "hunter2"}, {"Key": "env", "Value": "x"}]},
            {"tags": [{"Key": "db_password", "Value": "[REDACTED]"}, {"Key": "env", "Value": "x"}]},
            id="Key/Value objects",
        ),
        pytest.param(
            {"message": 'headers [{"name": "Cookie", "value": "sid=abc; theme=dark"}]'},
            {"message": 'headers [{"name": "Cookie", "value": "[REDACTED:token]"}]'},
            id="name/value objects in text",
        ),
        pytest.param(
            {"message": "Cookie: sid=abc123; theme=dark"},
            {"message": "Cookie: [REDACTED:token]"},
            id="Cookie in text",
        ),
        pytest.param(
            {"message": "Set-Cookie: sid=abc123; Path=/; HttpOnly\r\nVary: Accept"},
            {"message": "Set-Cookie: [REDACTED:token]\r\nVary: Accept"},
            id="Set-Cookie in text",
        ),
        pytest.param(
            {"message": f"loaded key\n{_PEM}\ndone"},
            {"message": "loaded key\n[REDACTED:private_key]\ndone"},
            id="PEM private key",
        ),
        pytest.param(
            {"message": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5v"},
            {"message": "[REDACTED:private_key]"},
            id="PEM private key cut short",
        ),
        pytest.param(
            {"message": "card 4111.1111.1111.1111 ok"},
            {"message": "card [REDACTED:card] ok"},
            id="card with dots",
        ),
        pytest.param(
            {"n": float(VISA), "amount": 12.5}, {"n": "[REDACTED:card]", "amount": 12.5}, id="float"
        ),
        pytest.param(
            {"by_user": {"bob@example.com": 3, "plain": 1}},
            {"by_user": {"[REDACTED:email]": 3, "plain": 1}},
            id="e-mail as key",
        ),
        pytest.param(
            {"message": "from 用户@例子.广告 and josé@bücher.de"},
            {"message": "from [REDACTED:email] and [REDACTED:email]"},
            id="internationalised e-mail",
        ),
        pytest.param(
            {"message": "to info@xn--bcher-kva.xn--p1ai"},
            {"message": "to [REDACTED:email]"},
            id="IDNA e-mail",
        ),
    ],
)
def test_issue11_10_redaction_probes(app: dict[str, Any], expected: dict[str, Any]) -> None:
    event = redact(app)
    assert event["app"] == expected
    assert event["tags"] == [tags.REDACTED]


def test_issue11_10_card_floats_from_a_line() -> None:
    """A card written as a JSON number with a fraction or an exponent, through the whole chain."""
    pipeline = Pipeline.from_config(None)
    line = f'{{"message": "paid", "card": {VISA}.0, "cc": 4.111111111111111e15}}'.encode()
    event = pipeline(RawLine(line, "/x/app.log", "fp", 0))
    assert event["app"]["card"] == "[REDACTED:card]"
    assert event["app"]["cc"] == "[REDACTED:card]"


def test_issue11_10_email_keys_keep_every_value() -> None:
    event = redact({"u": {"a@example.com": 1, "b@example.com": 2, "[REDACTED:email]": 3}})
    assert sorted(event["app"]["u"].values()) == [1, 2, 3]
    assert all("@" not in key for key in event["app"]["u"])


@pytest.mark.parametrize(
    "text",
    [
        "tests pass ok; compass=1 bypass=2",
        "spin=3 ping: 20ms",
        "Token refresh scheduled in 5 minutes",
        "digest of the day: 42",
        "version 1234.5678",
        "cookies accepted",
    ],
)
def test_issue11_10_near_misses_left_alone(text: str) -> None:
    event = redact({"message": text, "passenger": "x", "spin": "y", "name": "a", "value": 1})
    assert event["app"] == {"message": text, "passenger": "x", "spin": "y", "name": "a", "value": 1}
    assert "tags" not in event
