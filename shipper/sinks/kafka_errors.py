"""Why a Kafka client could not connect, in one line, and whether retrying can help.

aiokafka's bootstrap raises only "Unable to bootstrap from [...]"; the reason of each broker
(wrong SASL password, a certificate the CA file does not vouch for, an expired one) goes to its
logger, which logferry silences. When a start fails that way, :func:`diagnose` connects to the
brokers once more, the way aiokafka does, and keeps the reason.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, KafkaError

from shipper.masking import mask_urls

__all__ = ["ConnectFailure", "classify", "diagnose"]

_DIAGNOSE_TIMEOUT_S = 10.0
_OPTIONS = (
    "security_protocol",
    "ssl_context",
    "sasl_mechanism",
    "sasl_plain_username",
    "sasl_plain_password",
)


@dataclass(frozen=True)
class ConnectFailure:
    """What went wrong, and whether it is a mistake a retry cannot mend."""

    reason: str
    refused: bool
    """True for wrong credentials and untrusted or expired certificates: fix the config."""


_VERIFY = re.compile(r"certificate verify failed: ([^(\]]+)")


def classify(error: BaseException | str, *, user: str | None = None) -> ConnectFailure:
    """The one-line reason for a connection *error* (an exception or its text)."""
    if isinstance(error, str):
        text = error
    else:  # KafkaError's text names its class already; an OSError's does not
        name = type(error).__name__
        text = str(error) if str(error).startswith(name) else f"{name}: {error}"
    if "SaslAuthentication" in text or "Authentication failed" in text:
        who = f" for user {user!r}" if user else ""
        return ConnectFailure(
            f"Kafka refused the SASL credentials{who} (wrong user, password or mechanism)", True
        )
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        found = _VERIFY.search(text)
        detail = found.group(1).strip() if found else "certificate verify failed"
        if "expired" in detail:
            return ConnectFailure(f"the broker's TLS certificate has expired ({detail})", True)
        return ConnectFailure(
            f"the broker's TLS certificate is not trusted by ssl_cafile ({detail})", True
        )
    return ConnectFailure(mask_urls(text), False)


async def diagnose(
    exc: BaseException, bootstrap: str, client_options: dict[str, Any]
) -> ConnectFailure:
    """Why a client of *client_options* failed to start against *bootstrap* with *exc*."""
    user = client_options.get("sasl_plain_username")
    # Only TLS and SASL have mistakes a retry cannot mend; a plain client's outage (a broker
    # down, a network cut) is retried as it was, without a second connection attempt.
    plain = client_options.get("security_protocol", "PLAINTEXT") == "PLAINTEXT"
    if plain or not isinstance(exc, KafkaConnectionError):
        return classify(exc, user=user)
    options = {k: v for k, v in client_options.items() if k in _OPTIONS}
    last: ConnectFailure | None = None
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            async with asyncio.timeout(_DIAGNOSE_TIMEOUT_S):
                connection = await create_conn(
                    host, int(port), request_timeout_ms=int(_DIAGNOSE_TIMEOUT_S * 1000), **options
                )
            connection.close()
        except (OSError, KafkaError, TimeoutError, ValueError) as err:
            last = classify(err, user=user)
            if last.refused:
                return last
    return last or classify(exc, user=user)
