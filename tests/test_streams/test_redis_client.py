"""``redis_client``: what the settings turn into, read off the client's connection pool (no server)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import Connection, SSLConnection

from driftline.config.settings import RedisSettings
from driftline.streams.state.client import redis_client, redis_options
from driftline.streams.state.windows import RedisWindowStore


@pytest.fixture(autouse=True)
def _no_redis_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """RedisSettings reads what the arguments leave out from the environment: only the arguments count here."""
    for name in ("USERNAME", "PASSWORD", "SSL_CA_CERTS", "SSL_CERTFILE", "SSL_KEYFILE", "CLUSTER"):
        monkeypatch.delenv(f"DRIFTLINE_REDIS_{name}", raising=False)


def pool_of(settings: RedisSettings) -> tuple[type, dict[str, object]]:
    pool = redis_client(settings).connection_pool
    return pool.connection_class, pool.connection_kwargs


def test_a_plain_url_alone_gives_a_plain_client_with_no_credentials() -> None:
    cls, kwargs = pool_of(RedisSettings(url=SecretStr("redis://127.0.0.1:6379/2")))
    assert cls is Connection
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("127.0.0.1", 6379, 2)
    assert kwargs.get("username") is None and kwargs.get("password") is None


def test_username_and_password_come_from_their_own_settings() -> None:
    settings = RedisSettings(url=SecretStr("redis://h:6379/0"), username="driftline", password=SecretStr("s3cret"))
    _, kwargs = pool_of(settings)
    assert (kwargs["username"], kwargs["password"]) == ("driftline", "s3cret")


def test_a_password_in_the_url_wins_over_the_separate_one() -> None:
    settings = RedisSettings(url=SecretStr("redis://u:inurl@h:6379/0"), password=SecretStr("separate"))
    _, kwargs = pool_of(settings)
    assert (kwargs["username"], kwargs["password"]) == ("u", "inurl")


def test_rediss_with_tls_files_gives_a_verifying_tls_client() -> None:
    settings = RedisSettings(url=SecretStr("rediss://127.0.0.1:6380/0"), username="driftline",
                             password=SecretStr("pw"), ssl_ca_certs="/tls/ca.pem", ssl_certfile="/tls/client.pem",
                             ssl_keyfile="/tls/client.key")
    cls, kwargs = pool_of(settings)
    assert cls is SSLConnection
    assert (kwargs["ssl_ca_certs"], kwargs["ssl_certfile"], kwargs["ssl_keyfile"]) == (
        "/tls/ca.pem", "/tls/client.pem", "/tls/client.key")
    assert kwargs.get("ssl_cert_reqs", "required") == "required"  # the server's certificate is checked


def test_rediss_without_files_uses_the_system_cas() -> None:
    cls, kwargs = pool_of(RedisSettings(url=SecretStr("rediss://redis.example:6380/0")))
    assert cls is SSLConnection and "ssl_ca_certs" not in kwargs


def test_tls_files_with_a_plain_url_are_refused_by_name_without_the_password() -> None:
    settings = RedisSettings(url=SecretStr("redis://u:hunter2@h:6379/0"), ssl_ca_certs="/tls/ca.pem")
    with pytest.raises(ValueError, match="DRIFTLINE_REDIS_SSL_CA_CERTS set, but the Redis URL") as caught:
        redis_client(settings)
    assert "hunter2" not in str(caught.value) and "rediss://" in str(caught.value)


def test_options_hold_only_what_is_set() -> None:
    assert redis_options(RedisSettings(url=SecretStr("redis://h:6379/0"))) == {}
    assert redis_options(RedisSettings(url=SecretStr("redis://h:6379/0"), username="u")) == {"username": "u"}


def test_cluster_gives_the_cluster_client_started_from_the_urls_node_with_the_credentials() -> None:
    settings = RedisSettings(url=SecretStr("rediss://127.0.0.1:7001/0"), cluster=True, username="driftline",
                             password=SecretStr("s3cret"), ssl_ca_certs="/tls/ca.pem")
    client = redis_client(settings)
    assert isinstance(client, RedisCluster)  # nothing connected yet: the nodes are found at the first command
    assert [(n.host, n.port) for n in client.nodes_manager.startup_nodes.values()] == [("127.0.0.1", 7001)]
    kwargs = client.nodes_manager.connection_kwargs
    assert kwargs["connection_class"] is SSLConnection
    assert (kwargs["username"], kwargs["password"], kwargs["ssl_ca_certs"]) == ("driftline", "s3cret", "/tls/ca.pem")


def test_cluster_off_gives_the_single_node_client_whatever_the_url() -> None:
    assert type(redis_client(RedisSettings(url=SecretStr("redis://127.0.0.1:7001/0")))) is Redis


def test_the_cluster_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLINE_REDIS_CLUSTER", "true")
    assert isinstance(redis_client(RedisSettings(url=SecretStr("redis://127.0.0.1:7001/0"))), RedisCluster)


def test_sketch_store_from_url_takes_the_url_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLINE_REDIS_CLUSTER", "true")  # from_url never reads the environment
    monkeypatch.setenv("DRIFTLINE_REDIS_PASSWORD", "from-env")
    single = RedisWindowStore.from_url("redis://127.0.0.1:7001/0")
    assert type(single.redis) is Redis and single.redis.connection_pool.connection_kwargs.get("password") is None
    assert isinstance(RedisWindowStore.from_url("redis://127.0.0.1:7001/0", cluster=True).redis, RedisCluster)
