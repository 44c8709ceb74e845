"""The one exception tree of logferry.

Third-party errors are translated at the boundary (``raise ... from exc``), so callers
catch these and the CLI turns them into one clear line and an exit code::

    LogferryError
    ├── ConfigError            a setting is wrong (exit 2)
    ├── ElasticsearchError     Elasticsearch is unreachable or refused a request
    ├── KafkaAdminError        Kafka is unreachable or refused an admin request
    ├── KibanaError            Kibana is unreachable, refused the credentials or some saved objects
    ├── RefusedError           Kafka or Elasticsearch refused the credentials or the TLS trust:
    │                          a retry cannot mend it (wrong password, untrusted or expired certificate)
    └── StackError             the local stack cannot start or stop
        ├── JavaError          no Java, or one too old / too new
        ├── PortInUseError     a port the stack needs is taken
        ├── MavenError         Maven could not resolve the jars / zip
        ├── DiskFullError      not enough free space
        └── ServiceStartError  a service did not become healthy in time

The layers around this tree keep their own errors: the pure transforms raise
:class:`pipelines.errors.PipelineConfigError`, which becomes a ``ConfigError`` where the shipper
builds its pipeline (:mod:`shipper.transforms`); the load tester adds its own branch,
:class:`loadtest.errors.LoadTestError` (exit 3).
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DiskFullError",
    "ElasticsearchError",
    "JavaError",
    "KafkaAdminError",
    "KibanaError",
    "LogferryError",
    "MavenError",
    "PortInUseError",
    "RefusedError",
    "ServiceStartError",
    "StackError",
]


class LogferryError(Exception):
    """Base of every error logferry raises on purpose; its message is meant for the user."""

    exit_code = 1


class ConfigError(LogferryError):
    """A configuration value is invalid; the message names the key.

    A config with several mistakes is one error with several *problems*, one line each.
    """

    exit_code = 2

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems: tuple[str, ...] = problems or ("invalid configuration",)


class ElasticsearchError(LogferryError):
    """Elasticsearch could not be reached, or refused a request; the message says which."""


class KafkaAdminError(LogferryError):
    """Kafka could not be reached, or refused an admin request (topic creation, description)."""


class KibanaError(LogferryError):
    """Kibana could not be reached, refused the credentials, or refused saved objects of an import."""


class RefusedError(LogferryError):
    """Kafka or Elasticsearch refused us for a reason no retry mends: wrong credentials, a TLS
    certificate the configured CA does not vouch for, or one that has expired. The shipper, the
    indexer and setup stop with its one line instead of retrying."""


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
