"""Every public class of the detectors layer carries a runnable example (pytest runs them as doctests)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import driftline.detectors as detectors


def public_classes() -> list[type]:
    found = []
    for info in pkgutil.walk_packages(detectors.__path__, prefix="driftline.detectors."):
        if info.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        module = importlib.import_module(info.name)
        found += [
            obj for name, obj in vars(module).items()
            if inspect.isclass(obj) and obj.__module__ == module.__name__ and not name.startswith("_")
            and not issubclass(obj, Exception) and not getattr(obj, "_is_protocol", False)
        ]
    return found


def test_every_public_class_has_an_example() -> None:
    classes = public_classes()
    assert len(classes) > 20
    missing = sorted(f"{c.__module__}.{c.__qualname__}" for c in classes if ">>>" not in (c.__doc__ or ""))
    assert not missing, "classes without a doctest example:\n" + "\n".join(missing)
