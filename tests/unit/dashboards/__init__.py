"""Tests of the files under dashboards/: alert rules, scrape config, Alertmanager config."""
