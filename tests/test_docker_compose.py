"""docker-compose.yml is a valid Compose file with the services the README promises."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def compose_command() -> list[str]:
    if shutil.which("docker") and subprocess.run(
        ["docker", "compose", "version"], capture_output=True, check=False
    ).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("neither `docker compose` nor `docker-compose` is installed (.ci/setup installs docker-compose)")


def worker_env_of(config: dict) -> dict:  # type: ignore[type-arg]
    return config["services"]["worker"]["environment"]  # type: ignore[no-any-return]


def test_compose_file_parses_and_wires_the_worker_to_kafka_and_redis() -> None:
    cmd = compose_command()
    result = subprocess.run([*cmd, "-f", str(ROOT / "docker-compose.yml"), "config"],
                            capture_output=True, text=True, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    import yaml

    config = yaml.safe_load(result.stdout)
    assert set(config["services"]) == {"kafka", "redis", "worker", "dashboard"}
    dashboard = config["services"]["dashboard"]
    assert dashboard["environment"]["DRIFTLINE_REDIS_URL"] == worker_env_of(config)["DRIFTLINE_REDIS_URL"]
    assert "driftline dashboard --host 0.0.0.0 --port 8050" in " ".join(dashboard["command"])
    worker_env = config["services"]["worker"]["environment"]
    assert worker_env["DRIFTLINE_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert worker_env["DRIFTLINE_REDIS_URL"].startswith("redis://redis:")
    assert config["services"]["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
