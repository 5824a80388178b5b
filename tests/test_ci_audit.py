"""The verdict of ``make audit`` (.ci/audit.py) on pip-audit's JSON report: no pip-audit run, no network."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

AUDIT_PY = Path(__file__).resolve().parent.parent / ".ci" / "audit.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_audit", AUDIT_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


audit = _load()


def clean(name: str, version: str = "1.0") -> dict[str, Any]:
    return {"name": name, "version": version, "vulns": []}


def not_found(name: str, version: str = "1.0") -> dict[str, Any]:
    # pip-audit 2.x's words, as printed on a machine where PyPI's JSON API answers 404
    return {"name": name, "skip_reason": f"Dependency not found on PyPI and could not be audited: {name} ({version})"}


EDITABLE = {"name": "driftline", "skip_reason": "distribution marked as editable"}


def report(*deps: dict[str, Any]) -> dict[str, Any]:
    return {"dependencies": list(deps), "fixes": []}


def test_nothing_audited_says_not_audited_and_passes() -> None:
    lines, code = audit.verdict(report(not_found("aiohttp", "3.14.5"), not_found("numpy", "2.4.6"), EDITABLE))

    assert code == 0
    assert len(lines) == 1
    line = lines[0]
    assert line.startswith("NOT AUDITED: 0 of 2 packages checked")  # the editable project is not counted
    assert "(Dependency not found on PyPI and could not be audited)" in line  # one reason, without "aiohttp (3.14.5)"
    assert "aiohttp (3.14.5)" not in line
    assert "no known vulnerabilities" not in line.lower()


def test_nothing_audited_names_each_distinct_reason() -> None:
    odd = {"name": "weird", "skip_reason": "Package has invalid version and could not be audited: weird (x.y)"}
    lines, code = audit.verdict(report(not_found("a"), odd, not_found("b")))

    assert code == 0
    assert lines[0].startswith("NOT AUDITED: 0 of 3 packages checked")
    assert "Dependency not found on PyPI and could not be audited; Package has invalid version" in lines[0]


def test_a_vulnerability_fails_and_is_printed() -> None:
    vulnerable = {
        "name": "requests",
        "version": "2.0.0",
        "vulns": [{"id": "GHSA-j8r2-6x86-q33q", "fix_versions": ["2.31.0", "3.0.1"], "aliases": ["CVE-2023-32681"]}],
    }
    lines, code = audit.verdict(report(clean("attrs"), vulnerable, EDITABLE))

    assert code == 1
    text = "\n".join(lines)
    assert "VULNERABLE: requests 2.0.0 GHSA-j8r2-6x86-q33q" in text
    assert "CVE-2023-32681" in text
    assert "2.31.0, 3.0.1" in text
    assert "no known vulnerabilities" not in text


def test_a_vulnerability_without_a_fix_fails_too() -> None:
    no_fix = {"name": "pkg", "version": "1", "vulns": [{"id": "PYSEC-1", "fix_versions": []}]}
    lines, code = audit.verdict(report(no_fix))

    assert code == 1
    assert any("PYSEC-1" in line and "none known" in line for line in lines)


def test_some_audited_some_not_found_prints_both_lines_and_passes() -> None:
    lines, code = audit.verdict(report(clean("attrs"), clean("idna"), not_found("private-pkg"), EDITABLE))

    assert code == 0
    assert lines[0] == "AUDITED 2 of 3 packages: no known vulnerabilities"
    assert lines[1].startswith("NOT AUDITED: 1 of 3 packages")
    assert lines[1].endswith(": private-pkg")


def test_some_audited_others_skipped_for_another_reason_fails() -> None:
    odd = {"name": "weird", "skip_reason": "Package has invalid version and could not be audited: weird (x.y)"}
    lines, code = audit.verdict(report(clean("attrs"), odd))

    assert code == 1
    assert lines[0] == "AUDITED 1 of 2 packages: no known vulnerabilities"
    assert lines[1].startswith("NOT AUDITED: 1 of 2 packages") and "weird" in lines[1]


def test_all_audited_and_clean() -> None:
    lines, code = audit.verdict(report(clean("attrs"), clean("idna"), clean("numpy"), EDITABLE))

    assert (lines, code) == (["AUDITED 3 of 3 packages: no known vulnerabilities"], 0)


@pytest.mark.parametrize(
    "bad",
    [
        {},
        [],
        {"dependencies": "nope"},
        {"dependencies": [{"version": "1"}]},
        {"dependencies": [{"name": "x", "version": "1"}]},  # neither vulns nor skip_reason
        report(),  # no packages at all
        report(EDITABLE),  # only the project itself
    ],
)
def test_a_report_that_checked_nothing_recognisable_fails(bad: Any) -> None:
    lines, code = audit.verdict(bad)

    assert code == 1
    assert lines[-1].startswith("AUDIT FAILED:")
    assert "not a clean result" in lines[-1]
