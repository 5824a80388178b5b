"""Translate :class:`~driftline.config.settings.RedisSettings` into a ``redis.asyncio`` client.

The URL says where (``rediss://`` for TLS); ``username`` / ``password`` (an ACL
user) and the ``ssl_*`` files come from their own settings. A password inside
the URL wins over the separate one, as redis-py does. Nothing connects until
the first command.

``cluster``: redis-py's cluster client, started from the node the URL names. It
routes each command to the primary holding its key's slot, walks every primary
for ``SCAN``, splits a non-transactional pipeline per node, and runs a Lua script
or a ``MULTI`` transaction on one node when all its keys share a slot (the
``{model_id}`` hash tag of streams/state/keys.py sees to that). Everything above this
module takes a :data:`RedisClient` and does not care which it got.
"""

from __future__ import annotations

from typing import Any, TypeAlias
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from driftline.config import RedisSettings

RedisClient: TypeAlias = Redis | RedisCluster
"""One Redis or a Redis Cluster: the commands driftline uses work the same on both."""


def redis_options(settings: RedisSettings) -> dict[str, Any]:
    """Keyword arguments for ``Redis.from_url`` beside the URL: credentials and TLS files, when set.

    >>> from pydantic import SecretStr
    >>> s = RedisSettings(url=SecretStr("rediss://h:6380/0"), username="dl", password=SecretStr("pw"),
    ...                   ssl_ca_certs="/ca.pem")
    >>> sorted(redis_options(s))
    ['password', 'ssl_ca_certs', 'username']
    """
    options: dict[str, Any] = {}
    if settings.username:
        options["username"] = settings.username
    if settings.password is not None:
        options["password"] = settings.password.get_secret_value()
    tls = {name: getattr(settings, name) for name in ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile")}
    tls = {name: value for name, value in tls.items() if value}
    if tls and urlsplit(settings.url.get_secret_value()).scheme != "rediss":
        raise ValueError(f"{', '.join(f'DRIFTLINE_REDIS_{n.upper()}' for n in tls)} set, but the Redis URL "
                         f"{settings.masked_url} is not rediss://: TLS needs a rediss:// URL")
    return {**options, **tls}


def redis_client(settings: RedisSettings) -> RedisClient:
    """A client for the Redis (or the Redis Cluster) these settings name, with their credentials and TLS files.

    >>> from pydantic import SecretStr
    >>> type(redis_client(RedisSettings(url=SecretStr("redis://127.0.0.1:7000/0"), cluster=True))).__name__
    'RedisCluster'
    """
    url, options = settings.url.get_secret_value(), redis_options(settings)
    if settings.cluster:
        return RedisCluster.from_url(url, **options)
    return Redis.from_url(url, **options)


def text(value: bytes | str) -> str:
    """A reply as text (redis-py types replies as bytes or str, by ``decode_responses``; ours are bytes).

    >>> text(b"amount"), text("amount")
    ('amount', 'amount')
    """
    return value.decode() if isinstance(value, bytes) else value


def raw(value: bytes | str) -> bytes:
    """A reply as bytes.

    >>> raw("x"), raw(b"x")
    (b'x', b'x')
    """
    return value if isinstance(value, bytes) else value.encode()
