"""The alert-verification harness of ``loadtest run``: what it runs against and how it judges.

Its configuration is derived from the repository's own files, never kept as a second copy:
:mod:`loadtest.harness.rules` turns ``dashboards/prometheus/alerts.yml`` and
``dashboards/alertmanager/alertmanager.yml`` into a fast profile a load test can wait for.
"""
