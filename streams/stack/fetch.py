"""The Kafka broker's jars, fetched once from Maven Central into the cache.

Why Maven and not the release tarball: Maven Central is the one registry every
build machine of this project can reach, and ``mvn`` verifies checksums. Why a
cache outside the repo: the jars (~43 MB) are shared by every checkout and run.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from driftline.config import cache_dir
from driftline.streams.stack.errors import KafkaBrokerError

log = logging.getLogger(__name__)

KAFKA_VERSION = "4.1.0"
# Kafka 4.1.0 logs through SLF4J 1.7 (slf4j-api 1.7.36) onto log4j2 2.24.3 but ships no binding between
# them, so the broker would log nothing. log4j-slf4j-impl is log4j2's SLF4J *1.x* binding; the 2.x one
# (log4j-slf4j2-impl) would not bind against slf4j-api 1.7.
LOG4J_VERSION = "2.24.3"
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
_TMP_PREFIX = "fetch-"
_STALE_SECONDS = 3600.0


def kafka_home(version: str = KAFKA_VERSION) -> Path:
    """``<cache>/kafka-<version>``; the cache is ``DRIFTLINE_CACHE_DIR`` or ``~/.cache/driftline``."""
    return Path(cache_dir()) / f"kafka-{version}"


def kafka_libs(version: str = KAFKA_VERSION) -> Path:
    """The broker's jar folder, fetched with ``mvn`` on first use.

    The fetch goes into a temporary sibling folder that is renamed to ``libs``
    only when ``mvn`` succeeded: a killed fetch leaves no ``libs`` that looks
    complete, and two fetches racing each other both end with one good folder.
    """
    home = kafka_home(version)
    libs = home / "libs"
    if _complete(libs, version):
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaBrokerError("Maven (mvn) is needed to fetch the Kafka jars: apt-get install -y maven")
    home.mkdir(parents=True, exist_ok=True)
    _remove_stale_fetches(home)
    began = time.monotonic()
    log.info("fetching Kafka %s jars from Maven Central into %s ...", version, libs)
    with tempfile.TemporaryDirectory(dir=home, prefix=_TMP_PREFIX) as tmp:
        (Path(tmp) / "pom.xml").write_text(_POM.format(kafka=version, log4j=LOG4J_VERSION))
        result = subprocess.run(  # noqa: S603 — fixed arguments
            [mvn, "-q", "-B", "dependency:copy-dependencies", "-DincludeScope=runtime", "-DoutputDirectory=libs"],
            cwd=tmp, capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            tail = f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
            raise KafkaBrokerError(f"mvn could not fetch Kafka {version}:\n{tail}")
        fetched = Path(tmp) / "libs"
        if not _complete(fetched, version):
            raise KafkaBrokerError(f"mvn finished but {fetched} has no kafka_2.13-{version}.jar")
        try:
            fetched.rename(libs)  # atomic on one filesystem: libs/ is either absent or complete
        except OSError:
            if not _complete(libs, version):  # lost a race only if the winner's folder is good
                raise
    log.info("fetched Kafka %s jars in %.1fs", version, time.monotonic() - began)
    return libs


def _complete(libs: Path, version: str) -> bool:
    return (libs / f"kafka_2.13-{version}.jar").is_file()


def _remove_stale_fetches(home: Path) -> None:
    """Leftovers of fetches killed with SIGKILL; a fresh one may belong to a fetch still running."""
    for leftover in home.glob(f"{_TMP_PREFIX}*"):
        try:
            if time.time() - leftover.stat().st_mtime > _STALE_SECONDS:
                shutil.rmtree(leftover, ignore_errors=True)
        except FileNotFoundError:
            continue
