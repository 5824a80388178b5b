"""The monitor on a secured Kafka (SASL_SSL, SCRAM-SHA-512) and Redis (TLS, ACL user), all real.

A local stack of this module's own, started with ``secure=True`` (a new CA and
new random passwords):

- a worker given the right credentials through its settings counts every event
  and publishes its alerts and dead letters;
- a wrong Kafka password and a wrong Redis password each stop the worker (and
  ``driftline status``) at once, non-zero, with one line naming the service and
  the settings to fix;
- no password (right or wrong) is ever printed: not by ``config show``, the
  worker's debug log, ``status``, the failures, nor in alerts or dead letters.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftline.config.events import DeadLetter, DriftAlert
from driftline.config.settings import MASK, Settings, TopicSettings, load_settings
from driftline.streams.app.topics import ensure_topics
from driftline.streams.ingest.decode import decode
from driftline.streams.stack import LocalStack
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.simulate import EPOCH, FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess

from ..support.kafka import produce, read_topic
from ..support.waiting import counted, wait_until
from .conftest import stack_cli_env

pytestmark = pytest.mark.integration

WINDOWS, PER_WINDOW, DRIFT_AT = 4, 200, 1
MALFORMED = b'{"model_id": "secured", "features": '
WRONG_KAFKA_PASSWORD = "wrong-kafka-" + uuid.uuid4().hex
WRONG_REDIS_PASSWORD = "wrong-redis-" + uuid.uuid4().hex
FAIL_WITHIN_SECONDS = 60


@pytest.fixture(scope="module")
def secure_stack() -> Iterator[LocalStack]:
    with LocalStack(secure=True) as stack:
        yield stack


@pytest.fixture
def secure_settings(secure_stack: LocalStack) -> Settings:
    """Settings for the secure stack, credentials included, with topic names of this test's own."""
    run = uuid.uuid4().hex[:8]
    kafka, redis = secure_stack.client_settings()
    topics = TopicSettings(**{name: f"s{run}.{name}" for name in TopicSettings.model_fields})
    return load_settings(app_id=f"driftline-secure-{run}", kafka=kafka, redis=redis, topics=topics)


def secrets_of(stack: LocalStack) -> list[str]:
    assert stack.secrets is not None
    return [stack.secrets.kafka_password, stack.secrets.redis_password, stack.secrets.broker_password,
            WRONG_KAFKA_PASSWORD, WRONG_REDIS_PASSWORD]


def assert_no_secret(stack: LocalStack, **texts: str | bytes) -> None:
    for where, text in texts.items():
        body = text.decode(errors="replace") if isinstance(text, bytes) else text
        for secret in secrets_of(stack):
            assert secret not in body, f"a password appears in {where}"


def cli(stack: LocalStack, settings: Settings, *args: str, **overrides: str) -> subprocess.CompletedProcess[str]:
    """``driftline ARGS`` as a user would run it after ``eval "$(driftline stack up --secure)"``."""
    env = {**os.environ, **stack.client_env(), "DRIFTLINE_APP_ID": settings.app_id, **overrides}
    return subprocess.run([sys.executable, "-m", "driftline.streams.cli.main", *args], env=env, capture_output=True,
                          text=True, timeout=FAIL_WITHIN_SECONDS, check=False)


def traffic(sim: FraudSimulator) -> Iterator[dict[str, object] | bytes]:
    """The model's windows, ``amount`` shifted from DRIFT_AT on, then a malformed message."""
    for window in range(WINDOWS):
        yield from sim.events(window=window, n=PER_WINDOW, shift={"amount": 1.5} if window >= DRIFT_AT else None)
    yield MALFORMED


async def test_worker_with_the_credentials_counts_every_event_and_prints_no_secret(
    secure_stack: LocalStack, secure_settings: Settings, tmp_path: Path
) -> None:
    settings = secure_settings
    assert settings.kafka.security_protocol == "SASL_SSL" and settings.redis.url.get_secret_value().startswith("rediss")
    sim = FraudSimulator(model_id=f"secured-{settings.app_id[-8:]}")
    await ensure_topics(settings)
    store = RedisWindowStore.from_settings(settings.redis)
    log_path = tmp_path / "worker.log"
    try:
        await store.put_reference(sim.reference())
        with WorkerProcess(settings, log_path=log_path, window_seconds=60, loglevel="debug") as worker:
            produced = await produce(settings, traffic(sim), key=sim.model_id) - 1  # all but the malformed one
            first = int(EPOCH.timestamp()) // 60

            async def all_counted() -> bool:
                assert worker.alive(), log_path.read_text()[-3000:]
                windows = await store.read_buckets(sim.model_id, range(first, first + WINDOWS))
                return windows.n_events >= produced and await store.closed_window_count(sim.model_id) >= WINDOWS - 1

            await wait_until(all_counted, 120, "the worker to count every event")
            now = await counted(store, sim.model_id, WINDOWS)
            status = cli(secure_stack, settings, "status")
        assert now.in_windows == produced  # every event exactly once, through SASL_SSL and Redis over TLS
        assert "Authenticated as driftline via SCRAM-SHA-512" in log_path.read_text()  # the log checked below
        assert status.returncode == 0, status.stderr
        assert any(line.startswith(sim.model_id + " ") for line in status.stdout.splitlines())

        raw_alerts = await read_topic(settings, settings.topics.alerts, 1)
        alerts = [decode(v, DriftAlert, max_bytes=10**6) for v in raw_alerts]
        assert "amount" in {a.feature for a in alerts}
        raw_letters = await read_topic(settings, settings.topics.deadletter, 1)
        assert [decode(v, DeadLetter, max_bytes=10**6).reason[:8] for v in raw_letters] == ["not JSON"]
        shown = cli(secure_stack, settings, "config", "show")
        assert shown.returncode == 0 and shown.stdout.count(MASK) >= 2  # both passwords shown as the mask
        assert_no_secret(
            secure_stack, worker_log=log_path.read_text(), status=status.stdout + status.stderr,
            config_show=shown.stdout + shown.stderr, alerts=b"".join(raw_alerts), dead_letters=b"".join(raw_letters),
        )
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("service", "override"),
    [("Kafka", {"DRIFTLINE_KAFKA_SASL_PASSWORD": WRONG_KAFKA_PASSWORD}),
     ("Redis", {"DRIFTLINE_REDIS_PASSWORD": WRONG_REDIS_PASSWORD})],
)
def test_a_wrong_password_stops_the_worker_at_once_with_one_clear_line(
    secure_stack: LocalStack, secure_settings: Settings, service: str, override: dict[str, str]
) -> None:
    env_name = next(iter(override))
    worker = cli(secure_stack, secure_settings, "worker", **override)  # times out (fails) if it hangs
    assert worker.returncode != 0
    errors = [line for line in worker.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, worker.stderr[-3000:]
    assert errors[0].startswith(f"error: {service} at ") and "authentication failed" in errors[0]
    assert env_name in errors[0]  # names the setting to fix
    assert "Traceback" not in worker.stderr + worker.stdout
    assert_no_secret(secure_stack, worker=worker.stdout + worker.stderr)


def test_status_with_a_wrong_redis_password_says_so_in_one_line(
    secure_stack: LocalStack, secure_settings: Settings
) -> None:
    status = cli(secure_stack, secure_settings, "status", DRIFTLINE_REDIS_PASSWORD=WRONG_REDIS_PASSWORD)
    assert status.returncode == 1
    assert status.stdout == ""
    assert status.stderr.startswith("error: Redis at rediss://127.0.0.1:") and status.stderr.count("\n") == 1
    assert "authentication failed for user 'driftline'" in status.stderr
    assert_no_secret(secure_stack, status=status.stdout + status.stderr)


def test_without_the_stack_ca_tls_is_refused_by_name(secure_stack: LocalStack, secure_settings: Settings) -> None:
    system_cas = "/etc/ssl/certs/ca-certificates.crt"
    if not Path(system_cas).is_file():
        pytest.skip("no system CA bundle")
    status = cli(secure_stack, secure_settings, "status", DRIFTLINE_REDIS_SSL_CA_CERTS=system_cas)
    assert status.returncode == 1
    assert "TLS certificate not trusted" in status.stderr and "DRIFTLINE_REDIS_SSL_CA_CERTS" in status.stderr


def test_stack_up_secure_prints_the_credentials_to_eval_and_keeps_them_owner_only(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = stack_cli_env(cache)

    def run(*args: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "driftline.streams.cli.main", *args], env={**env, **(extra or {})},
                              capture_output=True, text=True, timeout=180, check=False)

    up = run("stack", "up", "--secure")
    try:
        assert up.returncode == 0, up.stderr
        assert all(line.startswith("export DRIFTLINE_") for line in up.stdout.splitlines())  # eval-able
        exports = dict(line.removeprefix("export ").split("=", 1) for line in up.stdout.splitlines())
        assert exports["DRIFTLINE_REDIS_URL"].startswith("rediss://127.0.0.1:")
        assert exports["DRIFTLINE_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert exports["DRIFTLINE_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert len({exports["DRIFTLINE_KAFKA_SASL_PASSWORD"], exports["DRIFTLINE_REDIS_PASSWORD"]}) == 2
        passwords = (exports["DRIFTLINE_KAFKA_SASL_PASSWORD"], exports["DRIFTLINE_REDIS_PASSWORD"])
        assert not any(p in up.stderr for p in passwords)  # the readable lines name users, not passwords
        assert (cache / "stack" / "state.json").stat().st_mode & 0o077 == 0
        status = run("status", extra=exports)
        assert status.returncode == 0, status.stderr
        assert "no models yet" in status.stdout
        no_password = {k: v for k, v in exports.items() if k != "DRIFTLINE_REDIS_PASSWORD"}
        refused = run("status", extra=no_password)  # the default user is off: no way in without the password
        assert refused.returncode == 1 and "authentication failed" in refused.stderr, refused.stderr
    finally:
        down = run("stack", "down")
    assert down.returncode == 0, down.stderr
