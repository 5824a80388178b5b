"""A real single-node Apache Kafka (KRaft combined mode) from Maven Central jars.

The jars of ``org.apache.kafka:kafka_2.13`` and their runtime dependencies are
fetched once with ``mvn`` into ``~/.cache/driftline/kafka-<version>/libs``
(atomically: a half-done fetch never looks complete), plus a log4j2 SLF4J
binding so the broker writes a log. Each broker formats its own temporary log
dir and listens on free loopback ports.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from driftline.config.settings import cache_dir
from driftline.streams.stack.ports import free_port
from driftline.streams.stack.process import ServiceProcess

log = logging.getLogger(__name__)

KAFKA_VERSION = "4.1.0"
LOG4J_VERSION = "2.24.3"  # the log4j2 Kafka 4.1.0 depends on; its SLF4J 1.7 binding gives a broker log
_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>driftline</groupId><artifactId>kafka-jars</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j}</version></dependency>
  </dependencies>
</project>
"""
_LOG4J2 = """status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = org.apache.kafka
logger.kafka.level = INFO
"""


class KafkaError(RuntimeError):
    """The broker could not be fetched, formatted or started; the message says why."""


def kafka_libs(version: str = KAFKA_VERSION) -> Path:
    """The broker's jar folder, fetched with Maven on first use."""
    home = cache_dir() / f"kafka-{version}"
    libs = home / "libs"
    if libs.is_dir() and any(libs.glob("kafka_2.13-*.jar")):
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaError("Maven (mvn) is needed to fetch the Kafka jars: apt-get install -y maven")
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=home) as tmp:
        (Path(tmp) / "pom.xml").write_text(_POM.format(kafka=version, log4j=LOG4J_VERSION))
        result = subprocess.run(  # noqa: S603 — fixed arguments
            [mvn, "-q", "-B", "dependency:copy-dependencies", "-DincludeScope=runtime", "-DoutputDirectory=libs"],
            cwd=tmp, capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise KafkaError(f"mvn could not fetch Kafka {version}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        fetched = Path(tmp) / "libs"
        if not libs.exists():
            fetched.rename(libs)  # atomic on one filesystem: libs/ is either absent or complete
    return libs


class KafkaBroker:
    """One KRaft broker+controller. ``start`` returns when a topic can be created."""

    def __init__(self, workdir: Path, *, port: int | None = None, heap: str = "512m") -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.controller_port = free_port()
        self._heap = heap
        self._process: ServiceProcess | None = None
        self._formatted = False
        self.start_seconds: float | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 90.0) -> None:
        if self._process is not None and self._process.alive():
            return
        began = time.monotonic()
        libs = kafka_libs()
        classpath = f"{libs}/*"
        self.workdir.mkdir(parents=True, exist_ok=True)
        props = self._write_config()
        if not self._formatted:
            self._format(classpath, props)
        self._process = ServiceProcess(
            "kafka",
            [_java(), f"-Xmx{self._heap}", f"-Xms{self._heap}", "-XX:+UseSerialGC",
             f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.properties'}",
             "-cp", classpath, "kafka.Kafka", str(props)],
            self.workdir / "broker.log",
        )
        self._process.start()
        try:
            asyncio.run(self._wait_ready(began + timeout))
        except KafkaError:
            tail = self._process.log_tail()
            self.stop()
            raise KafkaError(f"Kafka did not become ready in {timeout:.0f}s; broker log ends:\n{tail}") from None
        self.start_seconds = time.monotonic() - began
        log.info("Kafka %s ready at %s in %.1fs", KAFKA_VERSION, self.bootstrap, self.start_seconds)

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()

    def alive(self) -> bool:
        return self._process is not None and self._process.alive()

    def log_tail(self, chars: int = 4000) -> str:
        return self._process.log_tail(chars) if self._process else ""

    def _write_config(self) -> Path:
        props = self.workdir / "server.properties"
        props.write_text("\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={self.workdir / 'data'}",
            "num.partitions=4",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=4",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            # driftline creates its topics with the right configs; a typo must not create a new one.
            "auto.create.topics.enable=false",
            "",
        ]))
        (self.workdir / "log4j2.properties").write_text(_LOG4J2)
        return props

    def _format(self, classpath: str, props: Path) -> None:
        # Kafka's cluster ids are a random UUID in unpadded url-safe base64 (what `random-uuid` prints).
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        result = subprocess.run(  # noqa: S603
            [_java(), "-cp", classpath, "kafka.tools.StorageTool", "format",
             f"--cluster-id={cluster_id}", "-c", str(props), "--standalone"],
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise KafkaError(f"formatting Kafka storage failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
        self._formatted = True

    async def _wait_ready(self, deadline: float) -> None:
        probe = f"driftline-ready-{uuid.uuid4().hex[:8]}"
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._process is None or not self._process.alive():
                raise KafkaError("the broker exited")
            if not await _port_open("127.0.0.1", self.port):
                await asyncio.sleep(0.2)
                continue
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
            try:
                await admin.start()
                await admin.create_topics([NewTopic(probe, num_partitions=1, replication_factor=1)])
                await admin.delete_topics([probe])
                return
            except Exception as exc:  # noqa: BLE001 — not ready yet, whatever the reason
                last = exc
            finally:
                await admin.close()
            await asyncio.sleep(0.5)
        raise KafkaError(f"not ready: {last}")



async def _port_open(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise KafkaError("Java 17+ is needed to run Kafka: apt-get install -y openjdk-17-jre-headless")
    return java
