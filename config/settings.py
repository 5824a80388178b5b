"""Runtime settings: where Kafka and Redis are, how to authenticate, which topics.

This module is the only place in driftline that reads the environment. Every
group of settings is a frozen pydantic-settings model with its own prefix, so
the variable names read naturally (``DRIFTLINE_KAFKA_BOOTSTRAP``,
``DRIFTLINE_REDIS_URL``, ``DRIFTLINE_TOPIC_ALERTS``). Secrets are ``SecretStr``
and never appear in ``repr`` or in :func:`masked`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MASK = "**********"

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class KafkaSettings(BaseSettings):
    """How to reach the Kafka cluster (``DRIFTLINE_KAFKA_*``)."""

    model_config = SettingsConfigDict(env_prefix="DRIFTLINE_KAFKA_", frozen=True, extra="forbid")

    bootstrap: str = Field("localhost:9092", description="Comma-separated host:port list.")
    security_protocol: KafkaSecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_keyfile_password: SecretStr | None = None
    client_id: str = "driftline"

    @field_validator("bootstrap")
    @classmethod
    def _bootstrap_has_ports(cls, value: str) -> str:
        hosts = [h.strip() for h in value.split(",") if h.strip()]
        if not hosts:
            raise ValueError("needs at least one host:port")
        for host in hosts:
            name, sep, port = host.rpartition(":")
            if not sep or not name or not port.isdigit():
                raise ValueError(f"{host!r} is not host:port")
        return ",".join(hosts)

    @property
    def bootstrap_servers(self) -> list[str]:
        return self.bootstrap.split(",")


class RedisSettings(BaseSettings):
    """How to reach Redis (``DRIFTLINE_REDIS_*``).

    The password may come inside the URL or separately; both are masked when shown.
    ``cluster``: the URL names one node of a Redis Cluster (any of them; the client finds
    the others and which slots each holds). Every key of a model carries its ``{model_id}``
    hash tag, so one model lives on one slot and its Lua scripts and transactions stay there.
    """

    # hide_input_in_errors: a refused URL may hold a password.
    model_config = SettingsConfigDict(env_prefix="DRIFTLINE_REDIS_", frozen=True, extra="forbid",
                                      hide_input_in_errors=True)

    url: SecretStr = Field(SecretStr("redis://localhost:6379/0"))
    username: str | None = None
    password: SecretStr | None = None
    ssl_ca_certs: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    cluster: bool = Field(False, description="The URL is a node of a Redis Cluster (redis-py's cluster client).")

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, value: SecretStr) -> SecretStr:
        scheme = urlsplit(value.get_secret_value()).scheme
        if scheme not in {"redis", "rediss", "unix"}:
            raise ValueError(f"scheme must be redis://, rediss:// or unix://, not {scheme!r}://")
        return value

    @model_validator(mode="after")
    def _cluster_url(self) -> RedisSettings:
        """A cluster is reached over TCP and has database 0 only."""
        if not self.cluster:
            return self
        parts = urlsplit(self.url.get_secret_value())
        if parts.scheme == "unix":
            raise ValueError("a Redis Cluster is reached at host:port: cluster needs a redis:// or rediss:// URL")
        if parts.path.strip("/") not in {"", "0"}:
            raise ValueError(f"a Redis Cluster has database 0 only, not {parts.path.strip('/')!r} "
                             f"({self.masked_url})")
        return self

    @property
    def masked_url(self) -> str:
        """The URL with any password replaced by the mask."""
        return _mask_url_password(self.url.get_secret_value())


class TopicSettings(BaseSettings):
    """Topic names (``DRIFTLINE_TOPIC_*``)."""

    model_config = SettingsConfigDict(env_prefix="DRIFTLINE_TOPIC_", frozen=True, extra="forbid")

    predictions: str = "driftline.predictions"
    features: str = "driftline.features"
    labels: str = "driftline.labels"
    alerts: str = "driftline.alerts"
    retrain: str = "driftline.retrain"
    deadletter: str = "driftline.deadletter"
    references: str = "driftline.references"


class Settings(BaseSettings):
    """All of driftline's runtime settings. Build with :func:`load_settings`."""

    model_config = SettingsConfigDict(env_prefix="DRIFTLINE_", frozen=True, extra="ignore")

    app_id: str = "driftline"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    max_event_bytes: int = Field(1_000_000, gt=0, description="Larger messages are dead-lettered.")
    max_future_seconds: float = Field(
        300.0, gt=0,
        description="An event stamped further than this after its Kafka record's timestamp is dead-lettered "
        "(a producer clock ahead would otherwise close its model's open windows).",
    )
    idle_close_seconds: float = Field(
        30.0, ge=0,
        description="A model whose events stop: after this many seconds of wall-clock without one, its event time "
        "is taken to advance with the clock, so the windows that time has passed close (the last window of a "
        "replay, or before a pause, is judged instead of waiting for the next event). 0: never.",
    )
    silence_seconds: float = Field(
        600.0, ge=0,
        description="A model that sends no event for this many seconds of wall-clock gets a `silence` alert "
        "(warning, on __volume__), resolved by its next event. 0: never.",
    )
    metrics_port: int = Field(
        0, ge=0, le=65535,
        description="Serve Prometheus metrics at http://<host>:<port>/metrics (0: off). Several workers on one "
        "host need one port each.",
    )
    metrics_host: str = Field("0.0.0.0", description="The address the metrics server binds to.")  # noqa: S104
    history_windows: int = Field(
        1000, ge=0,
        description="Closed windows kept per model for the dashboard and reports (their statistics, thresholds, "
        "verdicts and current bin counts); older ones are trimmed. 0: none kept.",
    )
    history_events: int = Field(
        1000, ge=0,
        description="Alerts, and apart from them retrain triggers, kept per model for the dashboard. 0: none kept.",
    )
    fault_hold_commit_seconds: float = Field(
        0.0, ge=0,
        description="Fault tests only: wait this long between a batch's Redis writes and its offset commit, so "
        "a kill can land exactly there. 0 (the default) in production.",
    )
    fault_hold_close_seconds: float = Field(
        0.0, ge=0,
        description="Fault tests only: wait this long, holding the model's lease, between publishing a window's "
        "alerts and storing its close, so a kill can land exactly there. 0 (the default) in production.",
    )


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment; keyword arguments win over it.

    >>> s = load_settings(kafka=KafkaSettings(bootstrap="127.0.0.1:9092"))
    >>> s.kafka.bootstrap_servers
    ['127.0.0.1:9092']
    """
    return Settings(**overrides)


def masked(settings: Settings) -> dict[str, Any]:
    """Settings as plain data with every secret masked, for display and logs."""
    data = settings.model_dump(mode="json")  # SecretStr dumps as its mask
    data["redis"]["url"] = settings.redis.masked_url
    return data


def _mask_url_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo = f"{parts.username}:{MASK}" if parts.username else f":{MASK}"
    host = parts.hostname or ""
    netloc = f"{userinfo}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def cache_dir() -> Path:
    """Where downloaded artefacts (the Kafka jars) and local-stack state live.

    ``DRIFTLINE_CACHE_DIR``, else ``$XDG_CACHE_HOME/driftline``, else ``~/.cache/driftline``.
    """
    if explicit := os.environ.get("DRIFTLINE_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "driftline"


def external_services() -> tuple[str, str] | None:
    """``(kafka_bootstrap, redis_url)`` when both are set in the environment, else None.

    Tests, the demo and the benchmarks use such services instead of starting their own.
    """
    kafka, redis = os.environ.get("DRIFTLINE_KAFKA_BOOTSTRAP"), os.environ.get("DRIFTLINE_REDIS_URL")
    return (kafka, redis) if kafka and redis else None


def redis_cluster_for_tests() -> bool:
    """``DRIFTLINE_TEST_REDIS=cluster``: the test session (``stack_endpoints``) runs on a local 3-master
    Redis Cluster instead of one redis-server (``make test``'s second run)."""
    mode = os.environ.get("DRIFTLINE_TEST_REDIS", "").strip().lower()
    if mode not in {"", "single", "cluster"}:
        raise ValueError(f"DRIFTLINE_TEST_REDIS must be 'single' or 'cluster', not {mode!r}")
    return mode == "cluster"

