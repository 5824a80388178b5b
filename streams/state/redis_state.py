"""Every port on one Redis (or Redis Cluster) client: what a worker, a command or the dashboard opens."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pydantic import SecretStr

from driftline.config import RedisSettings
from driftline.streams.state import keys
from driftline.streams.state.client import RedisClient, redis_client
from driftline.streams.state.history import RedisHistory
from driftline.streams.state.labels import RedisLabelStore
from driftline.streams.state.lease import RedisModelLeases, TriggerLease
from driftline.streams.state.progress import RedisProgress
from driftline.streams.state.retrain import RedisRetrainStore
from driftline.streams.state.windows import RedisWindowStore


class RedisState:
    """The Redis implementation of :class:`~driftline.streams.state.ports.State`; one client, shared."""

    def __init__(self, client: RedisClient, *, keep_events: int = 1000) -> None:
        self._client = client
        self.windows = RedisWindowStore(client)
        self.labels = RedisLabelStore(client)
        self.leases = RedisModelLeases(client)
        self.retrain = RedisRetrainStore(client)
        self.history = RedisHistory(client, keep_events=keep_events)

    @classmethod
    def from_settings(cls, settings: RedisSettings, *, keep_events: int = 1000) -> RedisState:
        """On the Redis these settings name, with their credentials and TLS files."""
        return cls(redis_client(settings), keep_events=keep_events)

    @classmethod
    def from_url(cls, url: str, *, cluster: bool = False) -> RedisState:
        """On the Redis at ``url`` alone (nothing read from the environment)."""
        return cls.from_settings(RedisSettings(url=SecretStr(url), cluster=cluster, username=None, password=None,
                                               ssl_ca_certs=None, ssl_certfile=None, ssl_keyfile=None))

    def progress(self, group: str) -> RedisProgress:
        return RedisProgress(self._client, group)

    def trigger_lease(self, model_id: str, group: str, trigger_id: str) -> TriggerLease:
        return TriggerLease(self._client, model_id, group, trigger_id)

    async def overview(self, model_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """One pipeline for every model: its latest statistics and its firing alerts (the model list)."""
        async with self._client.pipeline(transaction=False) as pipe:
            for model_id in model_ids:
                pipe.hvals(keys.latest(model_id))
                pipe.hlen(keys.firing_alerts(model_id))
            replies = await pipe.execute()
        return {model_id: (sum(1 for v in replies[2 * i] if json.loads(v).get("severity") == "critical"),
                           int(replies[2 * i + 1]))
                for i, model_id in enumerate(model_ids)}

    async def ping(self) -> None:
        await self._client.ping()

    async def aclose(self) -> None:
        await self._client.aclose()
