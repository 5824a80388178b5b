"""The local stack: a real Kafka and a real Redis on loopback, started and stopped together."""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from driftline.config import KafkaSettings, RedisSettings
from driftline.streams.stack.errors import StackError
from driftline.streams.stack.kafka import KafkaBroker
from driftline.streams.stack.process import Managed
from driftline.streams.stack.redis_cluster import RedisClusterNodes
from driftline.streams.stack.redis_server import RedisServer
from driftline.streams.stack.secure import StackSecrets

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Endpoints:
    """Where the services are: what clients need, whichever way the services were provided."""

    kafka_bootstrap: str
    redis_url: str
    redis_cluster: bool = False
    """``redis_url`` is a node of a Redis Cluster."""

    def redis_settings(self) -> RedisSettings:
        """What a client of this Redis needs (no credentials: secure stacks give theirs by ``client_settings``).

        >>> Endpoints("127.0.0.1:9092", "redis://127.0.0.1:7000/0", redis_cluster=True).redis_settings().cluster
        True
        """
        return RedisSettings(url=SecretStr(self.redis_url), cluster=self.redis_cluster)


@dataclass(frozen=True)
class StartTimes:
    """Seconds from ``start()`` to ready, per service (Kafka's includes a jar fetch if one was needed)."""

    kafka: float
    redis: float


class LocalStack(Managed):
    """``with LocalStack() as stack:`` gives ``stack.endpoints``; everything stops on exit.

    ``workdir`` defaults to a temporary folder removed on stop; pass one to keep
    the logs and data. ``stack.kafka`` and ``stack.redis`` are the services, for
    tests that stop, restart or kill -9 one of them.

    ``secure=True``: Kafka over SASL_SSL (SCRAM-SHA-512) and Redis over TLS with an
    ACL user, a new CA and new random passwords per stack (``stack.secrets``);
    :meth:`client_settings` and :meth:`client_env` carry them to clients.

    ``redis_cluster=True``: a Redis Cluster of 3 masters (:class:`.RedisClusterNodes`)
    instead of one redis-server; clients get ``DRIFTLINE_REDIS_CLUSTER=true``. Not with
    ``secure`` (the cluster's nodes get no TLS or ACL here).
    """

    def __init__(
        self, workdir: Path | None = None, *, redis_aof: bool = False, secure: bool = False,
        redis_cluster: bool = False,
    ) -> None:
        if secure and redis_cluster:
            raise StackError("a secure stack with a Redis Cluster is not supported: the local cluster's nodes run "
                             "without TLS and ACLs; choose one of secure and redis_cluster")
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="driftline-stack-"))
        self.secrets = StackSecrets.make(self.workdir / "tls") if secure else None
        self.kafka = KafkaBroker(self.workdir / "kafka", secure=self.secrets)
        self.redis: RedisServer | RedisClusterNodes = (
            RedisClusterNodes(self.workdir / "redis", aof=redis_aof) if redis_cluster
            else RedisServer(self.workdir / "redis", aof=redis_aof, secure=self.secrets)
        )

    @property
    def redis_cluster(self) -> bool:
        return isinstance(self.redis, RedisClusterNodes)

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(kafka_bootstrap=self.kafka.bootstrap, redis_url=self.redis.url,
                         redis_cluster=self.redis_cluster)

    def client_settings(self) -> tuple[KafkaSettings, RedisSettings]:
        """The Kafka and Redis settings a client of this stack needs (credentials included when secure)."""
        return self.kafka.client_settings(), self.redis.client_settings()

    def client_env(self) -> dict[str, str]:
        """The same as ``DRIFTLINE_*`` variables, in the order ``driftline stack up`` prints them."""
        env = {"DRIFTLINE_KAFKA_BOOTSTRAP": self.kafka.bootstrap, "DRIFTLINE_REDIS_URL": self.redis.url}
        if self.redis_cluster:
            env["DRIFTLINE_REDIS_CLUSTER"] = "true"
        return env if self.secrets is None else {**env, **self.secrets.client_env()}

    @property
    def start_times(self) -> StartTimes | None:
        if self.kafka.start_seconds is None or self.redis.start_seconds is None:
            return None
        return StartTimes(kafka=self.kafka.start_seconds, redis=self.redis.start_seconds)

    def start(self) -> Endpoints:
        """Start both (Redis first: it is instant and fails fast); on any failure stop both. Idempotent."""
        try:
            self.redis.start()
            self.kafka.start()
        except BaseException:
            self.stop()
            raise
        return self.endpoints

    def stop(self) -> None:
        """Stop both; remove the workdir if it was ours. Idempotent."""
        try:
            self.kafka.stop()
        finally:
            self.redis.stop()
            if self._own_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def detach(self) -> None:
        """Leave both running after this Python process exits; ``stop`` no longer reaches them."""
        self._own_workdir = False
        self.kafka.detach()
        self.redis.detach()

