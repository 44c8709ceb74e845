"""The local stack: Kafka, Elasticsearch, Prometheus and Alertmanager without Docker."""

from shipper.stack.lifecycle import ServiceState, down, status, up
from shipper.stack.settings import StackSettings

__all__ = ["ServiceState", "StackSettings", "down", "status", "up"]
