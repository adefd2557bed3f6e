"""The docstring examples of the aggregate and detect services (and core modules named here) run as tests.

Every module of ``services.aggregate`` and ``services.detect`` is imported (an import failure is
a test failure: a module nobody can import has examples nobody can run) and its examples are
run with ``doctest``. ``__main__`` modules are left out: importing one runs the service's CLI,
and they hold no examples. The aggregate's one-idea modules must keep an example each.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import services.aggregate
import services.detect

PACKAGES = (services.aggregate, services.detect)
CORE_MODULES = ("storesight.heap",)  # core modules with examples
# One idea per module, each with a short runnable example (issue 14).
MUST_HAVE_EXAMPLES = {"aggregator", "epochs", "geometry", "heat", "line_counts", "lines", "model", "occupancy", "queues",
                      "records", "state", "visits", "windows"}


def module_names() -> list[str]:
    names = []
    for package in PACKAGES:
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
            if info.name.rsplit(".", 1)[-1] != "__main__":
                names.append(info.name)
    return sorted(names) + list(CORE_MODULES)


def test_every_module_is_found():
    names = module_names()
    assert {f"services.aggregate.{m}" for m in MUST_HAVE_EXAMPLES} <= set(names)
    assert "services.detect.tracker" in names and "services.detect.attributes.anonymity" in names


@pytest.mark.parametrize("name", module_names())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"
    if name.startswith("services.aggregate.") and name.rsplit(".", 1)[-1] in MUST_HAVE_EXAMPLES:
        assert result.attempted > 0, f"{name} has no runnable example"
