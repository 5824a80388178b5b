"""A real single-node Apache Kafka (KRaft combined mode) from the Maven Central jars.

One JVM is both broker and controller (``process.roles=broker,controller``, one
voter, formatted ``--standalone``): the smallest real Kafka, with no ZooKeeper
(gone in Kafka 4). Each broker formats its own work dir and listens on free
loopback ports that it keeps across restarts, so a client's bootstrap address
stays valid through the fault tests' stop / kill -9 / start.

``secure=StackSecrets(...)``: the client listener is SASL_SSL with SCRAM-SHA-512
(also used between the broker and itself); the SCRAM users are written into the
metadata log when the storage is formatted (KRaft has no ZooKeeper to hold them).
The controller listener stays PLAINTEXT on loopback.
"""

from __future__ import annotations

import base64
import logging
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from driftline.config import KafkaSettings
from driftline.streams.app.kafka import kafka_options
from driftline.streams.stack.errors import KafkaBrokerError
from driftline.streams.stack.fetch import KAFKA_VERSION, kafka_libs
from driftline.streams.stack.ports import free_port
from driftline.streams.stack.process import ProcessService, ServiceProcess
from driftline.streams.stack.readiness import run_sync, wait_kafka_ready
from driftline.streams.stack.secure import BROKER_USER, SCRAM_MECHANISM, StackSecrets

log = logging.getLogger(__name__)

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


class KafkaBroker(ProcessService):
    """One KRaft broker+controller. ``start`` returns once the broker is ready (see ``readiness``).

    ``start``/``stop`` are idempotent; ``restart`` and ``kill`` keep ports and data (a killed broker recovers
    its log at the next start).
    """

    START_TIMEOUT_SECONDS = 90.0
    STOP_GRACE_SECONDS = 20.0

    def __init__(
        self, workdir: Path, *, port: int | None = None, heap: str = "512m", secure: StackSecrets | None = None
    ) -> None:
        self.workdir = workdir
        self.secure = secure
        self.port = port or free_port()
        self.controller_port = free_port()
        self._heap = heap
        self._process = None
        self.start_seconds: float | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "broker.log"

    def start(self, timeout: float | None = None) -> None:
        """Fetch the jars if needed, format once, start the JVM, wait until ready; raise KafkaBrokerError if not."""
        if self.alive():
            return
        timeout = self.START_TIMEOUT_SECONDS if timeout is None else timeout
        began = time.monotonic()
        libs = kafka_libs()
        classpath = f"{libs}/*"
        self.workdir.mkdir(parents=True, exist_ok=True)
        props = self._write_config()
        if not (self.workdir / "data" / "meta.properties").exists():
            self._format(classpath, props)
        self._process = ServiceProcess(
            "kafka",
            [_java(), f"-Xmx{self._heap}", f"-Xms{self._heap}", "-XX:+UseSerialGC",
             f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.properties'}",
             "-cp", classpath, "kafka.Kafka", str(props)],
            self.log_path,
        )
        self._process.start()
        try:
            run_sync(wait_kafka_ready(self.bootstrap, self._process.alive, began + timeout, self._probe_options()))
        except KafkaBrokerError as exc:
            tail = self.log_tail()
            self.stop()
            raise KafkaBrokerError(f"Kafka at {self.bootstrap} not ready in {timeout:.0f}s ({exc}); "
                             f"{self.log_path} ends:\n{tail}") from None
        except BaseException:  # Ctrl-C while waiting: the JVM must not outlive us
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began
        log.info("Kafka %s ready at %s in %.1fs", KAFKA_VERSION, self.bootstrap, self.start_seconds)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def _write_config(self) -> Path:
        props = self.workdir / "server.properties"
        props.write_text("\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}",
            *self._listener_lines(),
            f"log.dirs={self.workdir / 'data'}",
            "num.partitions=4",
            # One node: every internal topic must fit on it.
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=4",  # default 50: slow to create, pointless here
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            # driftline creates its topics with the configs they need (the references topic is
            # compacted); a typo in a topic name must fail, not silently create a new topic.
            "auto.create.topics.enable=false",
            # Room for the fault suite's 10 MB messages: they must reach the worker to be dead-lettered.
            "message.max.bytes=16777216",
            "",
        ]))
        if self.secure is not None:
            props.chmod(0o600)  # it holds the broker's own SCRAM password
        (self.workdir / "log4j2.properties").write_text(_LOG4J2)
        return props

    def _listener_lines(self) -> list[str]:
        if self.secure is None:
            return [
                f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            ]
        certs, mechanism = self.secure.certs, SCRAM_MECHANISM.lower()
        return [
            f"listeners=SASL_SSL://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners=SASL_SSL://127.0.0.1:{self.port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=SASL_SSL",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL",
            f"sasl.enabled.mechanisms={SCRAM_MECHANISM}",
            f"sasl.mechanism.inter.broker.protocol={SCRAM_MECHANISM}",
            f"listener.name.sasl_ssl.{mechanism}.sasl.jaas.config="
            f"org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{BROKER_USER}" password="{self.secure.broker_password}";',
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={certs.key_and_chain}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={certs.ca}",
            "ssl.client.auth=none",
        ]

    def client_settings(self) -> KafkaSettings:
        """Settings a client needs for this broker: its address, and SASL_SSL credentials when secure."""
        if self.secure is None:
            return KafkaSettings(bootstrap=self.bootstrap)
        return KafkaSettings(
            bootstrap=self.bootstrap, security_protocol="SASL_SSL", sasl_mechanism=SCRAM_MECHANISM,
            sasl_username=self.secure.kafka_username, sasl_password=SecretStr(self.secure.kafka_password),
            ssl_cafile=str(self.secure.certs.ca),
        )

    def _probe_options(self) -> dict[str, Any] | None:
        return None if self.secure is None else kafka_options(self.client_settings())

    def _scram_users(self) -> list[str]:
        """``--add-scram`` arguments for the storage format: the client's user and the broker's own."""
        if self.secure is None:
            return []
        users = [(self.secure.kafka_username, self.secure.kafka_password), (BROKER_USER, self.secure.broker_password)]
        return [arg for name, password in users
                for arg in ("--add-scram", f"{SCRAM_MECHANISM}=[name={name},password={password}]")]

    def _format(self, classpath: str, props: Path) -> None:
        # A random UUID in unpadded url-safe base64 is exactly what `StorageTool random-uuid` prints;
        # making it here saves a JVM start (~1 s). `--cluster-id=` because an id may begin with '-'.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        result = subprocess.run(  # noqa: S603 — fixed arguments
            [_java(), "-cp", classpath, "kafka.tools.StorageTool", "format",
             f"--cluster-id={cluster_id}", "-c", str(props), "--standalone", *self._scram_users()],
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise KafkaBrokerError(f"formatting Kafka storage failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise KafkaBrokerError("Java 17+ is needed to run Kafka: apt-get install -y openjdk-17-jre-headless")
    return java
