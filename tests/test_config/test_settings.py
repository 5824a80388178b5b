from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from driftline.config.settings import KafkaSettings, RedisSettings, load_settings, masked, redis_cluster_for_tests


def test_environment_with_prefix_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLINE_KAFKA_BOOTSTRAP", "h1:9092, h2:9093")
    monkeypatch.setenv("DRIFTLINE_REDIS_URL", "redis://127.0.0.1:6390/2")
    monkeypatch.setenv("DRIFTLINE_TOPIC_ALERTS", "team.alerts")
    s = load_settings()
    assert s.kafka.bootstrap_servers == ["h1:9092", "h2:9093"]
    assert s.redis.url.get_secret_value() == "redis://127.0.0.1:6390/2"
    assert s.topics.alerts == "team.alerts"
    assert s.topics.predictions == "driftline.predictions"


def test_secrets_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLINE_KAFKA_SASL_PASSWORD", "kafka-s3cret")
    monkeypatch.setenv("DRIFTLINE_REDIS_URL", "redis://alice:redis-s3cret@localhost:6379/0")
    s = load_settings()
    shown = json.dumps(masked(s)) + repr(s) + str(s)
    assert "kafka-s3cret" not in shown and "redis-s3cret" not in shown
    assert masked(s)["redis"]["url"] == "redis://alice:**********@localhost:6379/0"
    assert s.kafka.sasl_password is not None and s.kafka.sasl_password.get_secret_value() == "kafka-s3cret"


@pytest.mark.parametrize("bootstrap", ["", "localhost", "localhost:abc", ":9092"])
def test_bad_bootstrap_is_refused_with_the_value(bootstrap: str) -> None:
    with pytest.raises(ValidationError, match="bootstrap"):
        KafkaSettings(bootstrap=bootstrap)


def test_bad_redis_scheme_is_refused() -> None:
    with pytest.raises(ValidationError, match="scheme"):
        RedisSettings(url="http://localhost:6379")  # type: ignore[arg-type]


def test_settings_are_frozen() -> None:
    s = load_settings()
    with pytest.raises(ValidationError):
        s.app_id = "x"  # type: ignore[misc]


def test_redis_cluster_is_off_unless_the_environment_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRIFTLINE_REDIS_CLUSTER", raising=False)
    assert load_settings().redis.cluster is False
    monkeypatch.setenv("DRIFTLINE_REDIS_CLUSTER", "true")
    assert load_settings().redis.cluster is True


@pytest.mark.parametrize(("url", "says"), [
    ("unix:///run/redis.sock", "redis:// or rediss://"),
    ("redis://alice:s3cret@h:7000/2", "database 0 only"),
])
def test_a_cluster_url_is_tcp_and_database_0_and_its_password_never_shows(url: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says) as caught:
        RedisSettings(url=url, cluster=True)  # type: ignore[arg-type]
    assert "s3cret" not in str(caught.value)
    assert RedisSettings(url="redis://h:7000", cluster=True).cluster  # type: ignore[arg-type]  # no path: db 0


@pytest.mark.parametrize(("value", "cluster"), [("", False), ("single", False), ("cluster", True), ("Cluster", True)])
def test_the_test_sessions_redis_mode(monkeypatch: pytest.MonkeyPatch, value: str, cluster: bool) -> None:
    monkeypatch.setenv("DRIFTLINE_TEST_REDIS", value)
    assert redis_cluster_for_tests() is cluster


def test_an_unknown_test_redis_mode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLINE_TEST_REDIS", "sentinel")
    with pytest.raises(ValueError, match="single' or 'cluster"):
        redis_cluster_for_tests()
