"""Locust file of the `es-flood-stage` scenario (see :mod:`loadtest.scenarios.catalog`)."""

from __future__ import annotations

from loadtest.scenarios import catalog, shapes, users


class Shopper(users.ShopUser):
    """A customer of the demo shop."""

    scenario = catalog.ES_FLOOD_STAGE


class Shape(shapes.PhasedShape):
    """The scenario's phases, scaled to the run."""

    scenario = catalog.ES_FLOOD_STAGE
