"""The layering of docs/architecture.md, checked on the source: config -> detectors -> streams -> views.

views/ (dashboard, reports, status) is the top: it reads through streams. The only way back down is
from the composition roots (:data:`COMPOSITION_ROOTS`): they start the views' commands. A layer reaches
another only through its package (``from driftline.detectors import X``, never a module inside it), and
inside streams/ each role subpackage keeps its room: only state/ knows Redis keys, pipeline/ runs on the
state ports and never touches Redis or Kafka, only state/, stack/ and the credential check import redis."""

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
COMPOSITION_ROOTS = {Path("streams/cli/views_commands.py"), Path("streams/cli/demo.py")}


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


LAYER_PACKAGES = {"config", "detectors", "streams", "views"}


def _source_of(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0]


def _subpackage(path: Path) -> str | None:
    rel = path.relative_to(ROOT)
    return rel.parts[1] if rel.parts[0] == "streams" and len(rel.parts) > 2 else None


@pytest.mark.parametrize("layer", ["detectors", "streams", "views"])
def test_another_layer_is_reached_through_its_package(layer: str) -> None:
    """``from driftline.config import Settings``, not ``from driftline.config.settings import Settings``:
    each layer's ``__init__`` is its public surface."""
    bad = []
    for path in layer_files(layer):
        for name in imports_of(path):
            parts = name.split(".")
            if parts[0] == "driftline" and len(parts) > 2 and parts[1] in LAYER_PACKAGES and parts[1] != layer:
                if path.relative_to(ROOT) in COMPOSITION_ROOTS and parts[1] == "views":
                    continue  # the composition roots start the views' commands (imported lazily)
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


def test_only_state_knows_the_key_layout_and_the_redis_implementations() -> None:
    """Outside streams/state/, state is the package's ports and backends: no key names, no Redis classes."""
    bad = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in layer_files("streams") if _subpackage(path) != "state"
        for name in imports_of(path) if name.startswith("driftline.streams.state.")
    ]
    assert not bad, "\n".join(bad)


REDIS_IMPORTERS = {"state", "stack"}
"""streams/ subpackages that may import redis; besides them only the start-up credential check."""


def test_only_state_stack_and_the_credential_check_import_redis() -> None:
    bad = [
        f"{path.relative_to(ROOT)} imports {name}"
        for layer in ("streams", "views")
        for path in layer_files(layer)
        if _subpackage(path) not in REDIS_IMPORTERS and path.relative_to(ROOT) != Path("streams/app/preflight.py")
        for name in imports_of(path) if name.split(".")[0] == "redis"
    ]
    assert not bad, "\n".join(bad)


PIPELINE_MAY_IMPORT = ("driftline.config", "driftline.detectors", "driftline.streams.state",
                       "driftline.streams.ingest.", "driftline.streams.pipeline.", "driftline.streams.references")


def test_the_pipeline_runs_on_the_state_ports_without_redis_or_kafka() -> None:
    """pipeline/ imports no I/O library and no state internals: it is unit-tested on the in-memory state."""
    bad = []
    for path in sorted((ROOT / "streams" / "pipeline").rglob("*.py")):
        for name in imports_of(path):
            top = name.split(".")[0]
            if top in IO_LIBRARIES or (top == "driftline" and not any(
                    name == p.rstrip(".") or name.startswith(p) for p in PIPELINE_MAY_IMPORT)):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
            if name.startswith("driftline.streams.state."):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


def test_views_read_through_the_streams_package_only() -> None:
    bad = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in layer_files("views")
        for name in imports_of(path) if name.startswith("driftline.streams.")
    ]
    assert not bad, "\n".join(bad)


def test_no_module_passes_400_lines() -> None:
    long = [f"{p.relative_to(ROOT)}: {n}" for layer in sorted(LAYER_PACKAGES) for p in layer_files(layer)
            if (n := len(p.read_text().splitlines())) > 400]
    assert not long, "\n".join(long)


def test_the_checker_sees_imports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import redis\nfrom aiokafka import AIOKafkaConsumer\nfrom driftline.streams import x\n")
    assert imports_of(probe) == {"redis", "aiokafka", "driftline.streams"}
