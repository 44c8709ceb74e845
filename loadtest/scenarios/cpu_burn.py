"""Locust file of the `cpu-burn` scenario (see :mod:`loadtest.scenarios.catalog`)."""

from __future__ import annotations

from loadtest.scenarios import catalog, shapes, users


class Shopper(users.ShopUser):
    """A customer of the demo shop."""

    scenario = catalog.CPU_BURN


class Shape(shapes.PhasedShape):
    """The scenario's phases, scaled to the run."""

    scenario = catalog.CPU_BURN
