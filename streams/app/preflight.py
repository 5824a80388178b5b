"""Before a worker (or ``driftline status``) starts: are the credentials right?

The worker retries every Kafka and Redis step until it succeeds, which is right
for an outage and wrong for a bad password: that never heals, and a worker
retrying it forever looks alive while it does nothing. So each service is
tried once at start: a rejected login, a missing permission or a certificate
that does not verify raises :class:`ServiceCheckFailed` with a one-line message
naming the service, the user and the settings to fix (never a secret). Anything
else (a service still starting, a refused connection) is left to the usual
retries: it may heal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl

from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError, SaslAuthenticationFailed
from redis.exceptions import AuthenticationError, NoPermissionError, RedisClusterException, RedisError

from driftline.config import RedisSettings, Settings
from driftline.streams.app.kafka import kafka_options
from driftline.streams.state import redis_client

log = logging.getLogger(__name__)

CHECK_SECONDS = 10.0


class ServiceCheckFailed(Exception):
    """Kafka or Redis rejected these settings for good (credentials, permissions, certificates)."""


async def check_services(settings: Settings) -> None:
    """:func:`check_redis` and :func:`check_kafka`; ServiceCheckFailed from the first that fails."""
    await check_redis(settings.redis)
    await check_kafka(settings)


async def check_redis(settings: RedisSettings, seconds: float = CHECK_SECONDS) -> None:
    """One PING with these settings' credentials and TLS files (on a Redis Cluster: to every node)."""
    user = settings.username or "default"
    try:
        client = redis_client(settings)
    except ValueError as exc:  # settings that contradict each other (TLS files with a redis:// URL)
        raise ServiceCheckFailed(f"Redis settings: {exc}") from None
    try:
        await asyncio.wait_for(client.ping(), seconds)
    except (RedisError, RedisClusterException, OSError, TimeoutError) as exc:
        # The cluster client wraps what its first node said in "Redis Cluster cannot be connected".
        refused = _in_chain(exc, (AuthenticationError, NoPermissionError))
        if isinstance(refused, AuthenticationError):
            raise ServiceCheckFailed(
                f"Redis at {settings.masked_url}: authentication failed for user {user!r} ({refused}); check "
                "DRIFTLINE_REDIS_USERNAME and DRIFTLINE_REDIS_PASSWORD (or the password in DRIFTLINE_REDIS_URL)"
            ) from None
        if refused is not None:
            raise ServiceCheckFailed(f"Redis at {settings.masked_url}: user {user!r} lacks a permission ({refused}); "
                                     "see docs/security.md for the ACL driftline needs") from None
        if _certificate_problem(exc):
            raise ServiceCheckFailed(f"Redis at {settings.masked_url}: TLS certificate not trusted ({exc}); check "
                                     "DRIFTLINE_REDIS_SSL_CA_CERTS") from None
        log.warning("Redis at %s not answering yet (%s)", settings.masked_url, exc)
    finally:
        await client.aclose()


async def check_kafka(settings: Settings, seconds: float = CHECK_SECONDS) -> None:
    """One connection (TLS handshake and SASL login included) to each bootstrap server until one answers."""
    kafka = settings.kafka
    options = kafka_options(settings.kafka)
    del options["bootstrap_servers"]
    for server in kafka.bootstrap_servers:
        host, _, port = server.rpartition(":")
        try:
            conn = await create_conn(host, int(port), request_timeout_ms=int(seconds * 1000), **options)
        except SaslAuthenticationFailed as exc:
            raise ServiceCheckFailed(
                f"Kafka at {server}: authentication failed for user {kafka.sasl_username!r} with "
                f"{kafka.sasl_mechanism} ({exc}); check DRIFTLINE_KAFKA_SASL_USERNAME and "
                "DRIFTLINE_KAFKA_SASL_PASSWORD"
            ) from None
        except (KafkaError, OSError, TimeoutError) as exc:
            if _certificate_problem(exc):
                raise ServiceCheckFailed(f"Kafka at {server}: TLS certificate not trusted ({exc}); check "
                                         "DRIFTLINE_KAFKA_SSL_CAFILE") from None
            log.warning("Kafka at %s not answering yet (%s)", server, exc)
            continue
        with contextlib.suppress(Exception):
            conn.close()
        return


def _certificate_problem(exc: BaseException | None) -> bool:
    """The error, or one it was raised from, is a certificate that did not verify."""
    return _in_chain(exc, (ssl.SSLCertVerificationError,)) is not None


def _in_chain(exc: BaseException | None, kinds: tuple[type[BaseException], ...]) -> BaseException | None:
    """The error, or the first one it was raised from, that is one of ``kinds``."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, kinds):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None
