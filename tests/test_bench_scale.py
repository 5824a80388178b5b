"""The pure helpers of bench/scale.py (no Kafka, no Redis): /proc parsing, key kinds, worker log assignments."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from .support.bench import load_bench


@pytest.fixture(scope="module")
def scale() -> ModuleType:
    return load_bench("scale")


def test_cpu_ticks_counts_fields_after_the_command_name(scale: ModuleType) -> None:
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime ...
    stat = "4242 (python -m (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 731 52 9 9 20 0 12 0 100 1 1\n"
    assert scale.cpu_ticks(stat) == 731 + 52


def test_cpu_ticks_of_this_process(scale: ModuleType) -> None:
    if not Path("/proc/self/stat").exists():
        pytest.skip("no /proc")
    assert scale.cpu_ticks(Path("/proc/self/stat").read_text()) > 0


def test_vm_hwm(scale: ModuleType) -> None:
    status = "Name:\tpython\nVmPeak:\t  900000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  190000 kB\n"
    assert scale.vm_hwm_kb(status) == 204800
    assert scale.vm_hwm_kb("Name:\tkthreadd\n") == 0


@pytest.mark.parametrize(("key", "expected"), [
    ("dl:{model-0001}:ref", ("model-0001", "ref")),
    ("dl:{model-0001}:win:29455200", ("model-0001", "win:<id>")),
    ("dl:{model-0001}:win:open", ("model-0001", "win:open")),
    ("dl:{model-0001}:win:closed", ("model-0001", "win:closed")),
    ("dl:{model-0001}:hist:windows", ("model-0001", "hist:windows")),
    ("dl:{model-0001}:pred:20415", ("model-0001", "pred:<id>")),
    ("dl:{model-0001}:perf:-3", ("model-0001", "perf:<id>")),
    ("dl:{m:1}:wm", ("m:1", "wm")),
    ("dl:{model-0001}:triggers:done:retrain-7", ("model-0001", "triggers:done:<group>")),
    ("dl:{model-0001}:triggers:running:g:ab12", ("model-0001", "triggers:running:<group>:<id>")),
    ("dl:{progress:scale-1w.predictions}", (None, "progress:<group>")),
    ("something-else", (None, "(not driftline)")),
])
def test_split_key(scale: ModuleType, key: str, expected: tuple[str | None, str]) -> None:
    assert scale.split_key(key) == expected


def test_parse_cluster_nodes(scale: ModuleType) -> None:
    text = (
        "07c3 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460\n"
        "67ed 127.0.0.1:30002@40002,host2 master - 0 1 2 connected 5461-10922\n"
        "292f 127.0.0.1:30004@40004 slave 07c3 0 1 4 connected\n"
        "dead 127.0.0.1:30009@40009 master,fail - 0 1 9 disconnected\n"
    )
    assert scale.parse_cluster_nodes(text) == [
        ("127.0.0.1", 30001, True), ("127.0.0.1", 30002, True), ("127.0.0.1", 30004, False),
    ]


def test_latest_assignment_and_settled_group(scale: ModuleType) -> None:
    topic = "scale1.predictions"
    log_one = (
        "[2026-11-23 15:00:00] [1] [INFO] assigned [('scale1.labels', 0), ('scale1.labels', 1)]\n"
        f"[2026-11-23 15:00:00] [1] [INFO] assigned [('{topic}', 0), ('{topic}', 1), ('{topic}', 2), "
        f"('{topic}', 3)]\n"
    )
    assert scale.latest_assignment(log_one, topic) == frozenset({0, 1, 2, 3})
    assert scale.latest_assignment("no assignment yet", topic) is None
    assert scale.group_settled([frozenset({0, 1, 2, 3})], 4)
    assert not scale.group_settled([frozenset({0, 1, 2, 3}), None], 4)  # the second worker has not joined
    assert not scale.group_settled([frozenset({0, 1, 2, 3}), frozenset({2, 3})], 4)  # mid-rebalance
    later = log_one + f"[...] assigned [('{topic}', 0), ('{topic}', 1)]\n"
    two = scale.latest_assignment(later, topic)
    assert scale.group_settled([two, frozenset({2, 3})], 4)


def test_drifting_share_and_per_million(scale: ModuleType) -> None:
    assert len(scale.drifting(1000, 0.2)) == 200
    assert scale.drifting(10, 0.0) == set()
    assert scale.drifting(5, 1.0) == {0, 1, 2, 3, 4}
    assert scale.per_million({"worker": 30.0, "redis": 4.5}, 1_500_000) == {"worker": 20.0, "redis": 3.0}


def test_sample_models_keeps_the_drifting_share(scale: ModuleType) -> None:
    drifting = scale.drifting(1000, 0.2)
    sample = scale.sample_models(1000, drifting, 10)
    assert len(sample) == len(set(sample)) == 10
    assert len([i for i in sample if i in drifting]) == 2
    assert scale.sample_models(3, set(), 10) == [0, 1, 2]
    assert scale.sample_models(4, {0, 1, 2, 3}, 2) == [0, 2]


def test_steady_state_projects_each_kind_to_its_bound(scale: ModuleType) -> None:
    from collections import Counter

    scan = scale.KeyScan(
        kinds={},
        sample_sizes={"win:<id>": [5000, 5000, 200, 5000, 5000], "hist:windows": [2000, 2000], "ref": [7000, 7000],
                      "hist:alerts": [300]},
        sample_elements={"win:<id>": [250] * 5, "hist:windows": [2, 2], "ref": [1, 1], "hist:alerts": [1]},
        sample_encodings={"ref": Counter({"raw": 2})},
        sampled_models=2, events_in_windows=0, late_events=0, alerts=0, alerts_undrifted=0, windows_closed=0,
    )
    state = scale.steady_state(scan, features=23, windows_alive=10_080, history_windows=1000, history_events=1000)
    assert state["window_hash_bytes"] == 5000  # the median: the one-event closing window does not count
    assert state["history_entry_bytes"] == 1000 and state["alert_entry_bytes"] == 300
    total = 7000 + 5000 * 10_080 + 1000 * 1000 + 300 * 1000 + 0
    assert state["mb_per_model"] == round(total / 2**20, 2)
    assert state["kb_per_model_feature"] == round(total / 1024 / 23, 1)
