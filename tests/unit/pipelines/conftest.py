"""Fixtures: a context with a fixed clock, the default pipeline, a one-call runner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pipelines import Pipeline, PipelineContext
from tests.unit.pipelines.support import NOW, raw


@pytest.fixture
def context() -> PipelineContext:
    return PipelineContext(
        service_name="checkout",
        service_environment="production",
        host_name="pod-1",
        agent_version="0.1.0",
        now=lambda: NOW,
    )


@pytest.fixture
def pipeline(context: PipelineContext) -> Pipeline:
    return Pipeline.from_config(None, context)


@pytest.fixture
def run(pipeline: Pipeline) -> Callable[..., dict[str, Any]]:
    """``run(line_or_object, offset=…, tags=…)`` → the default pipeline's event."""

    def _run(data: bytes | str | dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return pipeline(raw(data, **kwargs))

    return _run
