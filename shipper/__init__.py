"""logferry's runtime: tail files, ship events to Kafka, index them into Elasticsearch."""

__version__ = "0.1.0"
