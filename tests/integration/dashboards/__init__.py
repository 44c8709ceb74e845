"""Integration tests of the files under dashboards/: their queries against a real Prometheus."""
