"""The secure local stack's secrets: its certificates and a random password per user, per stack.

Kafka gets a SCRAM-SHA-512 user for driftline and one for the broker itself
(inter-broker traffic); Redis gets an ACL user for driftline, with the
``default`` user switched off. Passwords never appear in ``repr``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from driftline.streams.stack.tls import ServerCerts, make_server_certs

CLIENT_USER = "driftline"
BROKER_USER = "broker"
SCRAM_MECHANISM: Final = "SCRAM-SHA-512"  # a SaslMechanism (config.settings)
REDIS_KEY_PATTERN = "~dl:*"
"""Every key driftline writes starts with ``dl:`` (``streams/state/keys.py``)."""


@dataclass(frozen=True)
class StackSecrets:
    """Certificates and passwords of one secure stack; :meth:`make` creates them."""

    certs: ServerCerts
    kafka_password: str = field(repr=False)
    broker_password: str = field(repr=False)
    redis_password: str = field(repr=False)
    kafka_username: str = CLIENT_USER
    redis_username: str = CLIENT_USER

    @classmethod
    def make(cls, folder: Path) -> StackSecrets:
        """New certificates in ``folder`` and new random passwords."""
        return cls(
            certs=make_server_certs(folder),
            kafka_password=secrets.token_urlsafe(24),
            broker_password=secrets.token_urlsafe(24),
            redis_password=secrets.token_urlsafe(24),
        )

    def client_env(self) -> dict[str, str]:
        """The ``DRIFTLINE_*`` variables (besides the addresses) a client needs for this stack.

        >>> from driftline.streams.stack.tls import ServerCerts
        >>> certs = ServerCerts(*(Path(f"/s/{n}") for n in ("ca.pem", "server.pem", "server.key", "ks.pem")))
        >>> env = StackSecrets(certs, "kp", "bp", "rp").client_env()
        >>> env["DRIFTLINE_KAFKA_SECURITY_PROTOCOL"], env["DRIFTLINE_REDIS_SSL_CA_CERTS"]
        ('SASL_SSL', '/s/ca.pem')
        >>> "bp" in env.values()  # the broker's own password stays with the broker
        False
        """
        return {
            "DRIFTLINE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "DRIFTLINE_KAFKA_SASL_MECHANISM": SCRAM_MECHANISM,
            "DRIFTLINE_KAFKA_SASL_USERNAME": self.kafka_username,
            "DRIFTLINE_KAFKA_SASL_PASSWORD": self.kafka_password,
            "DRIFTLINE_KAFKA_SSL_CAFILE": str(self.certs.ca),
            "DRIFTLINE_REDIS_USERNAME": self.redis_username,
            "DRIFTLINE_REDIS_PASSWORD": self.redis_password,
            "DRIFTLINE_REDIS_SSL_CA_CERTS": str(self.certs.ca),
        }
