"""The README's demo command, run as a user runs it: its own local stack, a worker, alerts printed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from driftline.config import SIGNAL_DETECTORS
from driftline.streams.cli.demo import EXPECTED

from ..support.processes import sigint_as_in_a_terminal

pytestmark = pytest.mark.integration


def driftline_processes() -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if "driftline.streams.cli.main worker" in line or "kafka.Kafka" in line]


def test_demo_prints_an_alert_for_a_drifted_feature_and_leaves_nothing_running(tmp_path: Path) -> None:
    before = set(driftline_processes())
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}  # its own stack
    report = tmp_path / "report.html"
    result = subprocess.run(
        [sys.executable, "-m", "driftline.streams.cli.main", "demo", "--events-per-window", "500", "--windows", "10",
         "--drift-at", "3", "--drift-end", "6", "--report", str(report), "--dashboard-port", "0"],
        capture_output=True, text=True, timeout=400, env=env, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    alert_lines = [line for line in result.stdout.splitlines() if line.startswith("CRITICAL firing")]
    assert alert_lines, result.stdout
    assert set(EXPECTED) == {"amount", "merchant_risk_score", "channel", "__prediction__", "__prediction__[legit]",
                             "__prediction__[fraud]"}  # the story: two numeric features, a category, the prediction
    drifted = tuple(f"/ {feature}:" for feature in EXPECTED)
    concept = "/ __performance__:"  # the labels: wrong more often while the data drifts
    assert all(any(d in line for d in (*drifted, concept)) for line in alert_lines), alert_lines
    assert {d for d in drifted for line in alert_lines if d in line} == set(drifted), alert_lines
    # the flag, count, code, nulls, absent tenure, strings and the unseen channel stay at their usual rates: no
    # data-quality alert of any severity (its line names the signal: "/ amount: type_mismatch ...")
    signals = [line for line in result.stdout.splitlines() if re.match(r"[A-Z]+ firing ", line)
               and re.search(r" / \S+: (" + "|".join(SIGNAL_DETECTORS) + r")\b", line)]
    assert signals == [], signals
    assert len([line for line in result.stdout.splitlines()
                if line.startswith("CRITICAL resolved") and concept not in line]) == len(drifted)
    # the performance alert fires in a drifted window, stays firing while the labels are wrong more often, and
    # resolves only once they are not: its lines say the error rate against the band and the reference
    minute = re.compile(r"window \S+ 00:(\d\d)-")
    performance = [(line.split()[1], int(minute.findall(line)[0]))
                   for line in result.stdout.splitlines() if concept in line]
    assert [state for state, _ in performance] == ["firing", "resolved"], performance
    assert 3 <= performance[0][1] < 6 <= performance[1][1], performance
    assert all(re.search(r"error_rate 0\.\d{3} (> band|within band) 0\.\d{3} \(ref 0\.\d{3}, p=", line)
               for line in result.stdout.splitlines() if concept in line)
    assert re.search(r"^dashboard: http://127\.0\.0\.1:\d+/ \(while the demo runs\)$", result.stdout, re.M)
    assert f"report: {report.resolve()} (" in result.stdout
    assert report.stat().st_size > 100_000 and "fraud-detector" in report.read_text()
    assert set(driftline_processes()) <= before  # the worker, Kafka and Redis are gone


def test_ctrl_c_stops_the_demo_and_everything_it_started() -> None:
    before = set(driftline_processes())
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    demo = subprocess.Popen(
        [sys.executable, "-m", "driftline.streams.cli.main", "demo", "--windows", "40"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        preexec_fn=sigint_as_in_a_terminal,
    )
    assert demo.stdout is not None
    seen = []
    for line in demo.stdout:  # wait until the worker runs and events flow
        seen.append(line)
        if line.startswith("worker started"):
            break
    time.sleep(2)
    demo.send_signal(signal.SIGINT)
    out, _ = demo.communicate(timeout=90)
    assert demo.returncode == 130, "".join(seen) + out
    assert "interrupted" in out
    assert set(driftline_processes()) <= before
