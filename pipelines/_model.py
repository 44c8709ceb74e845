"""The base of every stage's config model, and the checks several of them share."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

__all__ = ["StageModel", "compile_regex"]


class StageModel(BaseModel):
    """Unknown keys are errors (a typo must not silently fall back to a default); immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def compile_regex(pattern: str) -> re.Pattern[str]:
    """``re.compile``, failing with a ``ValueError`` a validator turns into a config error."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{pattern!r} is not a valid regex: {exc}") from exc
