"""No import cycles between any two of our modules, function-level imports included.

The import contract (`lint-imports`, pyproject.toml) checks the layers and cycles between
siblings at every depth; a cycle between a package's ``__init__`` and one of its own modules is
not between siblings, so this test looks at the whole module graph.
"""

from __future__ import annotations

import grimp

PACKAGES = ("pipelines", "shipper", "loadtest")


def cycles(graph: grimp.ImportGraph) -> set[tuple[str, ...]]:
    """Every direct import that some chain of imports leads back from: ``(a, b, …, a)``."""
    found: set[tuple[str, ...]] = set()
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back:
                found.add((importer, *back))
    return found


def test_the_cycle_finder_sees_a_cycle_through_a_package_init() -> None:
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.cli", "pkg.cli.run", "pkg.errors"):
        graph.add_module(module)
    graph.add_import(importer="pkg.cli", imported="pkg.cli.run")
    graph.add_import(importer="pkg.cli.run", imported="pkg.cli")
    graph.add_import(importer="pkg.cli.run", imported="pkg.errors")
    assert cycles(graph) == {
        ("pkg.cli", "pkg.cli.run", "pkg.cli"),
        ("pkg.cli.run", "pkg.cli", "pkg.cli.run"),
    }


def test_our_modules_import_one_another_without_cycles() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    assert {"pipelines.pipeline", "shipper.config", "loadtest.cli"} <= graph.modules  # ours
    assert cycles(graph) == set()
