# ruff: noqa: INP001
"""``make audit``: pip-audit over the virtualenv, with a verdict that never reads as clean when nothing was checked.

pip-audit reports a package it could not look up as skipped ("Dependency not found on PyPI and could
not be audited") and still ends with "No known vulnerabilities found". Where its advisory source (PyPI's
JSON API, or OSV) is not reachable, every package is skipped that way and the audit checked nothing.
This script runs ``pip-audit -f json`` and says what was actually checked:

- a known vulnerability: one ``VULNERABLE:`` line each (package, version, id, fix versions); exit 1;
- nothing checked: one ``NOT AUDITED: 0 of n packages checked (reason)`` line; exit 0 (an advisory
  source we cannot reach is not a defect of this project, but the line must not read as clean);
- some checked: ``AUDITED k of n packages: no known vulnerabilities`` and a ``NOT AUDITED:`` line naming
  the skipped ones; exit 0, or 1 when the advisory source answered for some packages and others were
  skipped for another reason than "not found on PyPI" (a version pip-audit could not parse, say);
- everything checked: ``AUDITED n of n packages: no known vulnerabilities``; exit 0;
- pip-audit failing (no JSON, a crash): its stderr's tail and ``AUDIT FAILED``; exit 1.

Packages pip-audit skipped because we asked it to (``--skip-editable``: this project itself) are not
counted. ``verdict`` holds the decision and is pure (tests/test_ci_audit.py).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

PIP_AUDIT_ARGS = ("--skip-editable", "--progress-spinner", "off", "-f", "json")
TIMEOUT_S = 900
STDERR_TAIL_LINES = 20
MAX_NAMES = 30
MAX_REASONS = 3

# Skipped because we asked for it (--skip-editable): our own project, not a dependency to audit.
_DELIBERATE_SKIPS = ("distribution marked as editable", "requirement marked as editable")
# pip-audit's reason for a package its advisory source has no entry for (a private package, or a source
# that answers 404 for everything); pip-audit appends ": name (version)".
_NOT_FOUND = "Dependency not found on PyPI"
# "...: aiohttp (3.14.5)" -> "..."
_REASON_SUFFIX = re.compile(r":\s*[^\s:]+ \([^()]*\)\s*$")


def _reason(skip_reason: str) -> str:
    """The skip reason without the package it names, so that one reason covers many packages."""
    return _REASON_SUFFIX.sub("", skip_reason).strip() or skip_reason


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_NAMES])
    return shown if len(names) <= MAX_NAMES else f"{shown} and {len(names) - MAX_NAMES} more"


def _reasons(reasons: list[str]) -> str:
    distinct = list(dict.fromkeys(reasons))
    shown = "; ".join(distinct[:MAX_REASONS])
    more = len(distinct) - MAX_REASONS
    return shown if more <= 0 else f"{shown}; and {more} other reason(s)"


def _not_audited_some(skipped: list[tuple[str, str]], total: int) -> str:
    reasons = _reasons([reason for _, reason in skipped])
    return f"NOT AUDITED: {len(skipped)} of {total} packages ({reasons}): {_names([name for name, _ in skipped])}"


def _failed(why: str) -> tuple[list[str], int]:
    return [f"AUDIT FAILED: {why}; nothing was audited, this is not a clean result"], 1


def verdict(report: Any) -> tuple[list[str], int]:
    """The lines to print and the exit code for pip-audit's JSON report (``pip-audit -f json``, parsed).

    pip-audit 2.x: ``{"dependencies": [{"name", "version", "vulns": [{"id", "fix_versions", "aliases"?}]}
    | {"name", "skip_reason"}], "fixes": [...]}``.
    """
    deps = report.get("dependencies") if isinstance(report, dict) else None
    if not isinstance(deps, list) or not all(isinstance(d, dict) and isinstance(d.get("name"), str) for d in deps):
        return _failed("pip-audit's JSON has no list of dependencies with names")

    audited: list[dict[str, Any]] = []
    skipped: list[tuple[str, str]] = []  # (name, reason without the package)
    for dep in deps:
        skip_reason = dep.get("skip_reason")
        if skip_reason is not None:
            if str(skip_reason) not in _DELIBERATE_SKIPS:
                skipped.append((dep["name"], _reason(str(skip_reason))))
        elif isinstance(dep.get("vulns"), list):
            audited.append(dep)
        else:
            return _failed(f"pip-audit's JSON has neither vulns nor skip_reason for {dep['name']}")

    total = len(audited) + len(skipped)
    if total == 0:
        return _failed("pip-audit listed no packages to audit")

    lines: list[str] = []
    vulnerable = 0
    for dep in audited:
        for vuln in dep["vulns"]:
            vulnerable += 1
            vuln = vuln if isinstance(vuln, dict) else {}
            fixes = ", ".join(str(v) for v in vuln.get("fix_versions") or []) or "none known"
            aliases = ", ".join(str(a) for a in vuln.get("aliases") or [])
            lines.append(
                f"VULNERABLE: {dep['name']} {dep.get('version', '?')} {vuln.get('id', '?')}"
                + (f" ({aliases})" if aliases else "")
                + f"; fixed in: {fixes}"
            )
    skipped_reasons = [reason for _, reason in skipped]

    if vulnerable:
        packages = sum(1 for dep in audited if dep["vulns"])
        lines.append(f"FOUND {vulnerable} known vulnerabilities in {packages} of {len(audited)} audited packages")
        if skipped:
            lines.append(_not_audited_some(skipped, total))
        return lines, 1

    if not audited:
        lines.append(
            f"NOT AUDITED: 0 of {total} packages checked ({_reasons(skipped_reasons)}); the advisory service "
            "answered for none of them (most likely not reachable from here); this is not a clean result"
        )
        return lines, 0

    lines.append(f"AUDITED {len(audited)} of {total} packages: no known vulnerabilities")
    if not skipped:
        return lines, 0
    lines.append(_not_audited_some(skipped, total))
    # The advisory source answered for some packages: "not found" for the others is what it says of a
    # package it has no entry for (a private one); any other reason is a package we failed to check.
    unexplained = [reason for reason in skipped_reasons if not reason.startswith(_NOT_FOUND)]
    if unexplained:
        lines.append(f"AUDIT INCOMPLETE: {len(unexplained)} package(s) skipped while the advisory service answered")
        return lines, 1
    return lines, 0


def _tail(text: str) -> list[str]:
    return [f"  {line}" for line in text.strip().splitlines()[-STDERR_TAIL_LINES:]]


def main() -> int:
    pip_audit = Path(sys.executable).parent / "pip-audit"
    try:
        proc = subprocess.run(  # noqa: S603 (a fixed command line, no shell)
            [str(pip_audit), *PIP_AUDIT_ARGS], capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        lines, code = _failed(f"could not run {pip_audit} ({exc})")
        sys.stdout.write("\n".join(lines) + "\n")
        return code

    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        lines, code = _failed(f"pip-audit exited {proc.returncode} without a JSON report")
    else:
        lines, code = verdict(report)
        # pip-audit exits 1 when it finds a vulnerability, and on its own errors (then without a report).
        if proc.returncode != 0 and code == 0:
            lines, code = _failed(f"pip-audit exited {proc.returncode} but its report shows no vulnerability")
    if lines[-1].startswith("AUDIT FAILED"):
        lines = ["pip-audit's stderr (last lines):", *_tail(proc.stderr), *lines]
    sys.stdout.write("\n".join(lines) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
