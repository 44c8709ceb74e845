"""The one-line reasons for a refused connection, and which ones a retry cannot mend."""

from __future__ import annotations

from aiokafka.errors import KafkaConnectionError

from shipper.sinks.kafka_errors import classify, diagnose


def test_a_refused_sasl_login_names_the_user_never_the_password() -> None:
    failure = classify(
        "[Error 58] SaslAuthenticationFailed: Authentication failed during authentication due "
        "to invalid credentials with SASL mechanism SCRAM-SHA-512",
        user="logferry",
    )
    assert failure.refused
    assert failure.reason.startswith("Kafka refused the SASL credentials for user 'logferry'")


def test_untrusted_and_expired_certificates_are_told_apart() -> None:
    untrusted = classify(
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in "
        "certificate chain (_ssl.c:1006)"
    )
    expired = classify(
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired "
        "(_ssl.c:1006)"
    )
    assert untrusted.refused and expired.refused
    assert untrusted.reason == (
        "the broker's TLS certificate is not trusted by ssl_cafile "
        "(self-signed certificate in certificate chain)"
    )
    assert expired.reason == "the broker's TLS certificate has expired (certificate has expired)"


def test_an_unreachable_broker_is_worth_retrying() -> None:
    failure = classify(ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 1)"))
    assert not failure.refused


async def test_diagnose_connects_again_to_find_the_reason() -> None:
    options = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN"}
    failure = await diagnose(KafkaConnectionError("Unable to bootstrap"), "127.0.0.1:1", options)
    assert not failure.refused
    assert "Connect call failed" in failure.reason


async def test_a_plain_client_is_not_diagnosed() -> None:
    failure = await diagnose(KafkaConnectionError("Unable to bootstrap"), "127.0.0.1:1", {})
    assert not failure.refused
    assert failure.reason == "KafkaConnectionError: Unable to bootstrap"
