"""The Python examples in the docs run, and say what they show (doctest on the Markdown)."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
WITH_EXAMPLES = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md") if ">>> " in p.read_text(encoding="utf-8"))


def test_the_docs_have_examples() -> None:
    assert "labels.md" in WITH_EXAMPLES
    signals = {p.name for p in (DOCS / "signals").glob("*.md")}
    assert signals == {f"{s}.md" for s in ("missing", "type-mismatch", "out-of-range", "unseen", "volume", "silence")}
    assert all(f"signals/{name}" in WITH_EXAMPLES for name in signals)  # every signal's page shows it at work


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_the_examples_of_a_doc_run(name: str) -> None:
    result = doctest.testfile(str(DOCS / name), module_relative=False, optionflags=doctest.ELLIPSIS,
                              verbose=False, report=True)
    assert result.attempted > 0 and result.failed == 0


def test_the_monitor_spec_example_validates() -> None:
    import re
    import tomllib

    from driftline.config import parse_monitor_config

    (block,) = re.findall(r"```toml\n(.*?)```", (DOCS / "monitor-specs.md").read_text(encoding="utf-8"), re.DOTALL)
    spec = parse_monitor_config(tomllib.loads(block), source="docs/monitor-specs.md").models["fraud-detector"]
    assert spec.join_labels and spec.performance.task == "binary" and spec.label_ttl_seconds == 604_800
