"""Locust file of the `disk-fill` scenario (see :mod:`loadtest.scenarios.catalog`)."""

from __future__ import annotations

from loadtest.scenarios import catalog, shapes, users


class Shopper(users.ShopUser):
    """A customer of the demo shop."""

    scenario = catalog.DISK_FILL


class Shape(shapes.PhasedShape):
    """The scenario's phases, scaled to the run."""

    scenario = catalog.DISK_FILL
