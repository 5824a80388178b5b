"""Translate :class:`~driftline.config.settings.RedisSettings` into a ``redis.asyncio`` client.

The URL says where (``rediss://`` for TLS); ``username`` / ``password`` (an ACL
user) and the ``ssl_*`` files come from their own settings. A password inside
the URL wins over the separate one, as redis-py does. Nothing connects until
the first command.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis

from driftline.config.settings import RedisSettings


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


def redis_client(settings: RedisSettings) -> aioredis.Redis:
    """A client for the Redis these settings name, with their credentials and TLS files."""
    return aioredis.Redis.from_url(settings.url.get_secret_value(), **redis_options(settings))
