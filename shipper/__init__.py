"""logferry's runtime: tail files, ship events to Kafka, index them into Elasticsearch.

The middle layer: it may import :mod:`pipelines` (the pure transforms) and never `loadtest`.
Public to `loadtest`: :mod:`shipper.commandline`, :mod:`shipper.errors`, :mod:`shipper.process`,
:mod:`shipper.resources`, :mod:`shipper.indexer.config`, :mod:`shipper.indexer.es` and
:mod:`shipper.indexer.setup`; every other module serves the shipper's own commands.
`lint-imports` holds both (``[tool.importlinter]`` in pyproject.toml).
"""

__version__ = "0.1.0"
