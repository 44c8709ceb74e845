"""What every stage of a pipeline shares: who is shipping, for which service, and the clock."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pipelines._ecs_fields import ECS_FIELD_TYPES
from pipelines.errors import PipelineConfigError

__all__ = ["PipelineContext"]

# Top-level ECS names (``log``, ``http``, ``@timestamp``…) cannot double as the app namespace:
# the app's keys would collide with the ECS fields mapped beside them.
_RESERVED_NAMESPACES = frozenset(name.split(".", 1)[0] for name in ECS_FIELD_TYPES) | {"tags"}
_NAMESPACE_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True, slots=True)
class PipelineContext:
    """Settings the runtime supplies to every stage (from its own config, not the pipeline's)."""

    service_name: str | None = None
    """``service.name``; when set it wins over the line's own ``service`` (which then stays under
    the app namespace), so routing and metric labels stay under the operator's control."""
    service_environment: str | None = None
    """``service.environment`` (``production``, ``staging``…); wins over the line's ``env``."""
    host_name: str | None = None
    """``host.name``; wins over the line's ``host``/``hostname``."""
    agent_version: str = "unknown"
    """``agent.version``: the shipper's version."""
    agent_name: str | None = None
    """``agent.name``; defaults to the host name (as Filebeat does), else ``logferry``."""
    namespace: str = "app"
    """Where the line's keys without an ECS home are kept (``app.order_id``)."""
    now: Callable[[], float] = field(default=time.time)
    """Read time in epoch seconds; injected so tests are deterministic. The only clock stages use."""

    def __post_init__(self) -> None:
        if not _NAMESPACE_RE.fullmatch(self.namespace):
            raise PipelineConfigError(
                f"namespace: {self.namespace!r} must be lower-case letters, digits or _ "
                "and start with a letter"
            )
        if self.namespace in _RESERVED_NAMESPACES:
            raise PipelineConfigError(
                f"namespace: {self.namespace!r} is an ECS field set; pick another"
            )
