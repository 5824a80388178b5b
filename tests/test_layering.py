"""The layering of DESIGN.md, checked on the source: config -> detectors -> streams -> views.

views/ (dashboard, reports, status) is the top: it reads through streams. The only way back down is
from the composition roots, ``streams/cli/main.py`` and ``streams/cli/demo.py``: they start the views' commands."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IO_LIBRARIES = {"faust", "aiokafka", "redis", "mode"}
ALLOWED_THIRD_PARTY = {
    "config": {"pydantic", "pydantic_settings"},
    "detectors": {"pydantic", "numpy", "scipy", "river", "datasketches"},
}
ALLOWED_OWN = {
    "config": {"config"},
    "detectors": {"config", "detectors"},
    "streams": {"config", "detectors", "streams"},
    "views": {"config", "detectors", "streams", "views"},
}
COMPOSITION_ROOTS = {Path("streams/cli/main.py"), Path("streams/cli/demo.py")}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def layer_files(layer: str) -> list[Path]:
    return sorted((ROOT / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", ["config", "detectors", "streams", "views"])
def test_layer_imports_only_what_it_may(layer: str) -> None:
    import sys

    stdlib = sys.stdlib_module_names
    bad = []
    for path in layer_files(layer):
        for name in imports_of(path):
            top = name.split(".")[0]
            if top == "driftline":
                own = name.split(".")[1] if "." in name else ""
                allowed = ALLOWED_OWN[layer] | ({"views"} if path.relative_to(ROOT) in COMPOSITION_ROOTS else set())
                if own not in allowed:
                    bad.append(f"{path.relative_to(ROOT)} imports {name}")
            elif layer in ALLOWED_THIRD_PARTY and top not in stdlib and top not in ALLOWED_THIRD_PARTY[layer]:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


def test_only_streams_imports_io_libraries() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for layer in ("config", "detectors")
        for path in layer_files(layer)
        for name in imports_of(path)
        if name.split(".")[0] in IO_LIBRARIES
    ]
    assert not offenders, "\n".join(offenders)


def test_the_checker_sees_imports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import redis\nfrom aiokafka import AIOKafkaConsumer\nfrom driftline.streams import x\n")
    assert imports_of(probe) == {"redis", "aiokafka", "driftline.streams"}
