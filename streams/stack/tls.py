"""A throwaway certificate authority and a server certificate for 127.0.0.1 / localhost.

The secure local stack serves Kafka (SASL_SSL) and Redis (TLS) with one server
certificate signed by a CA made for this stack alone: clients trust ``ca.pem``
and nothing else, and the files go with the stack's work dir. Made with the
``openssl`` command line (no Python crypto dependency); keys are unencrypted
PKCS#8 PEM, which both Kafka's PEM keystore and redis-server read.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from driftline.streams.stack.errors import StackError

_SERVER_EXTENSIONS = """basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
"""


@dataclass(frozen=True)
class ServerCerts:
    """Where the PEM files are: the CA to trust, the server's certificate and key, and both in one file."""

    ca: Path
    cert: Path
    key: Path
    key_and_chain: Path
    """The server key followed by its certificate and the CA's: a Kafka ``PEM`` keystore file."""


def make_server_certs(folder: Path, *, days: int = 7) -> ServerCerts:
    """A new CA and a server certificate for ``127.0.0.1`` and ``localhost`` in ``folder`` (kept if present).

    Keys are readable by the owner only. StackError with openssl's output if a step fails.
    """
    folder.mkdir(parents=True, exist_ok=True)
    certs = ServerCerts(ca=folder / "ca.pem", cert=folder / "server.pem", key=folder / "server.key",
                        key_and_chain=folder / "server-keystore.pem")
    if all(path.is_file() for path in (certs.ca, certs.cert, certs.key, certs.key_and_chain)):
        return certs  # a restart keeps the certificates its clients already trust
    ca_key, csr, extensions = folder / "ca.key", folder / "server.csr", folder / "server.ext"
    extensions.write_text(_SERVER_EXTENSIONS)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-noenc", "-keyout", str(ca_key), "-out", str(certs.ca),
             "-days", str(days), "-subj", "/CN=driftline local stack CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    _openssl("req", "-newkey", "rsa:2048", "-noenc", "-keyout", str(certs.key), "-out", str(csr),
             "-subj", "/CN=localhost")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(certs.ca), "-CAkey", str(ca_key), "-CAcreateserial",
             "-out", str(certs.cert), "-days", str(days), "-extfile", str(extensions))
    certs.key_and_chain.write_text(certs.key.read_text() + certs.cert.read_text() + certs.ca.read_text())
    for private in (ca_key, certs.key, certs.key_and_chain):
        private.chmod(0o600)
    csr.unlink()
    return certs


def _openssl(*args: str) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        raise StackError("openssl is needed to make the secure stack's certificates: apt-get install -y openssl")
    result = subprocess.run([binary, *args], capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise StackError(f"openssl {args[0]} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
