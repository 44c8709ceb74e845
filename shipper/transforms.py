"""The configured transform chain, built from plain settings: where the runtime meets the pure
transforms of :mod:`pipelines`, and the one place their errors become ours.

It knows nothing of :class:`~shipper.config.ShipperConfig`, so the config can validate its
``pipeline`` by building it, and :mod:`shipper.pipeline` can build it from a loaded config,
without an import cycle between the two.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from typing import Any

from pipelines.context import PipelineContext
from pipelines.errors import PipelineConfigError
from pipelines.pipeline import Pipeline
from shipper import __version__
from shipper.errors import ConfigError

__all__ = ["build_transforms"]


def build_transforms(
    stages: Sequence[Mapping[str, Any]] | None,
    *,
    service_name: str,
    service_environment: str | None = None,
) -> Pipeline:
    """The transform chain of *stages* (the defaults when ``None``) for this host and service.

    Raises :class:`~shipper.errors.ConfigError` naming the failing stage and key.
    """
    try:
        context = PipelineContext(
            service_name=service_name,
            service_environment=service_environment,
            host_name=socket.gethostname(),
            agent_version=__version__,
        )
        return Pipeline.from_config(stages, context)
    except PipelineConfigError as exc:
        raise ConfigError(str(exc)) from exc
