"""The local stack: Kafka, Elasticsearch, Prometheus and Alertmanager without Docker."""

from shipper.stack.lifecycle import ServiceState, chosen, down, status, up
from shipper.stack.settings import StackSettings

__all__ = ["ServiceState", "StackSettings", "chosen", "down", "status", "up"]
