"""What makes driftline fit a Redis Cluster, checked without one: every key of a model hashes to the
model's own slot, and the local stack's cluster option says what clients need (and refuses what it
cannot do) before starting anything."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from redis.crc import key_slot

from driftline.streams.stack import Endpoints, LocalStack, RedisClusterNodes, StackError
from driftline.streams.stack.commands import stack_up
from driftline.streams.state import keys

MODELS = ("fraud-detector", "m", "a:b", "x" * 200, "ünïcode-模型")


def model_key_builders() -> list[tuple[str, object]]:
    """Every function of streams/state/keys.py whose first parameter is the model id."""
    return [(name, fn) for name, fn in vars(keys).items()
            if inspect.isfunction(fn) and list(inspect.signature(fn).parameters)[:1] == ["model_id"]]


def sample_args(fn: object) -> list[object]:
    params = list(inspect.signature(fn).parameters.values())[1:]  # type: ignore[arg-type]
    return [3 if p.annotation in ("int", int) else "g" for p in params]


def test_every_key_of_a_model_is_on_the_models_slot() -> None:
    builders = model_key_builders()
    assert len(builders) >= 20  # the reference, windows, watermarks, alerts, history, labels, triggers, ...
    for model in MODELS:
        slot = key_slot(model.encode())
        off = {name: fn(model, *sample_args(fn)) for name, fn in builders  # type: ignore[operator]
               if key_slot(fn(model, *sample_args(fn)).encode()) != slot}  # type: ignore[operator]
        assert off == {}, f"keys of {model!r} off its slot {slot}"


def test_models_spread_over_the_slots_and_progress_has_a_slot_of_its_own() -> None:
    slots = {key_slot(keys.reference(f"model-{i}").encode()) for i in range(300)}
    assert len(slots) > 290 and min(slots) < 5461 and max(slots) > 10922  # every third of the slots is used
    assert key_slot(keys.partition_progress("driftline.predictions").encode()) == key_slot(
        b"progress:driftline.predictions")


def test_a_secure_cluster_stack_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="secure"):
        LocalStack(tmp_path / "stack", secure=True, redis_cluster=True)
    assert not (tmp_path / "stack").exists()


def test_stack_up_refuses_secure_with_redis_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DRIFTLINE_CACHE_DIR", str(tmp_path))
    assert stack_up(secure=True, redis_cluster=True) == 2
    out = capsys.readouterr()
    assert out.out == "" and "--redis-cluster cannot be combined with --secure" in out.err
    assert list(tmp_path.iterdir()) == []  # no state, no process


def test_a_cluster_stack_tells_its_clients_it_is_a_cluster(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path, redis_cluster=True)  # not started: addresses are chosen up front
    assert isinstance(stack.redis, RedisClusterNodes) and stack.endpoints.redis_cluster
    assert stack.client_env()["DRIFTLINE_REDIS_CLUSTER"] == "true"
    assert stack.client_env()["DRIFTLINE_REDIS_URL"] == f"redis://127.0.0.1:{stack.redis.ports[0]}/0"
    _, redis = stack.client_settings()
    assert redis.cluster and stack.endpoints.redis_settings() == redis
    assert "DRIFTLINE_REDIS_CLUSTER" not in LocalStack(tmp_path / "single").client_env()
    assert not Endpoints("127.0.0.1:9092", "redis://127.0.0.1:6379/0").redis_settings().cluster


def test_a_cluster_has_three_masters_at_least_on_distinct_ports(tmp_path: Path) -> None:
    nodes = RedisClusterNodes(tmp_path, masters=5)
    assert len(set(nodes.ports + nodes.bus_ports)) == 10 and not nodes.alive() and nodes.pids == []
    with pytest.raises(ValueError, match="at least 3"):
        RedisClusterNodes(tmp_path, masters=2)
