from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from driftline.config.settings import KafkaSettings, RedisSettings, load_settings, masked


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
