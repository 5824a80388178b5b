"""The local stack: a real Kafka and a real Redis on loopback, started and stopped together."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from driftline.streams.stack.kafka import KafkaBroker
from driftline.streams.stack.redis_server import RedisServer


@dataclass(frozen=True)
class Endpoints:
    """Where the services are."""

    kafka_bootstrap: str
    redis_url: str


class LocalStack:
    """``with LocalStack() as stack:`` gives ``stack.endpoints``; everything stops on exit.

    ``workdir`` defaults to a temporary folder removed on stop; pass one to keep logs.
    """

    def __init__(self, workdir: Path | None = None, *, redis_aof: bool = False) -> None:
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="driftline-stack-"))
        self.kafka = KafkaBroker(self.workdir / "kafka")
        self.redis = RedisServer(self.workdir / "redis", aof=redis_aof)

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(kafka_bootstrap=self.kafka.bootstrap, redis_url=self.redis.url)

    def start(self) -> Endpoints:
        try:
            self.redis.start()
            self.kafka.start()
        except BaseException:
            self.stop()
            raise
        return self.endpoints

    def stop(self) -> None:
        try:
            self.kafka.stop()
        finally:
            self.redis.stop()
            if self._own_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
