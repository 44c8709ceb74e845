"""The one exception tree of logferry.

Third-party errors are translated at the boundary (``raise ... from exc``), so callers
catch these and the CLI turns them into one clear line and an exit code::

    LogferryError
    ├── ConfigError            a setting is wrong (exit 2)
    ├── ElasticsearchError     Elasticsearch is unreachable or refused a request
    ├── KafkaAdminError        Kafka is unreachable or refused an admin request
    ├── KibanaError            Kibana is unreachable, refused the credentials or some saved objects
    ├── LoadTestError          `loadtest run` could not set up or carry out a run (exit 3)
    └── StackError             the local stack cannot start or stop
        ├── JavaError          no Java, or one too old / too new
        ├── PortInUseError     a port the stack needs is taken
        ├── MavenError         Maven could not resolve the jars / zip
        ├── DiskFullError      not enough free space
        └── ServiceStartError  a service did not become healthy in time
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DiskFullError",
    "ElasticsearchError",
    "JavaError",
    "KafkaAdminError",
    "KibanaError",
    "LoadTestError",
    "LogferryError",
    "MavenError",
    "PortInUseError",
    "ServiceStartError",
    "StackError",
]


class LogferryError(Exception):
    """Base of every error logferry raises on purpose; its message is meant for the user."""

    exit_code = 1


class ConfigError(LogferryError):
    """A configuration value is invalid; the message names the key."""

    exit_code = 2


class ElasticsearchError(LogferryError):
    """Elasticsearch could not be reached, or refused a request; the message says which."""


class KafkaAdminError(LogferryError):
    """Kafka could not be reached, or refused an admin request (topic creation, description)."""


class KibanaError(LogferryError):
    """Kibana could not be reached, refused the credentials, or refused saved objects of an import."""


class LoadTestError(LogferryError):
    """A load test could not be set up or carried out (a failed expectation is a result, not this)."""

    exit_code = 3


class StackError(LogferryError):
    """The local stack could not be brought up or down."""


class JavaError(StackError):
    """No suitable Java runtime was found."""


class PortInUseError(StackError):
    """A port the stack needs is already taken by another process."""


class MavenError(StackError):
    """Maven failed to resolve an artifact of the stack."""


class DiskFullError(StackError):
    """Too little free disk space to download or run a service."""


class ServiceStartError(StackError):
    """A service was started but did not become healthy."""
