"""The one error of the pure transforms: a setting they cannot work with.

It is a :class:`ValueError` and knows nothing of the runtime above: the shipper translates it at
the boundary where it builds the pipeline from its config (``raise ConfigError(...) from exc``),
so its command line still prints one line and exits 2.
"""

from __future__ import annotations

__all__ = ["PipelineConfigError"]


class PipelineConfigError(ValueError):
    """A pipeline setting is invalid; the message names the key: ``pipeline[2].window_s: …``."""
