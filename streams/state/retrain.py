"""The Redis retrain store: each model's alerts firing now and its retrain policy's state."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict

from driftline.detectors import FiringAlert, RetrainState
from driftline.streams.state import keys
from driftline.streams.state.client import RedisClient, text
from driftline.streams.state.ports import RetrainRecord


class RedisRetrainStore:
    """The :class:`~driftline.streams.state.ports.RetrainStore`: a hash of firing alerts, a string of state."""

    def __init__(self, client: RedisClient) -> None:
        self._redis = client

    async def load(self, model_id: str) -> RetrainRecord:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.firing_alerts(model_id))
            pipe.get(keys.retrain_state(model_id))
            raw_firing, raw_state = await pipe.execute()
        firing = {text(k): FiringAlert(**json.loads(v)) for k, v in raw_firing.items()}
        return RetrainRecord(firing, RetrainState.from_bytes(raw_state) if raw_state is not None else None)

    async def save(self, model_id: str, firing: Mapping[str, FiringAlert], state: RetrainState | None) -> None:
        firing_hash = keys.firing_alerts(model_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(firing_hash)
            if firing:
                pipe.hset(firing_hash, mapping={k: json.dumps(asdict(v)) for k, v in firing.items()})
            if state is not None:
                pipe.set(keys.retrain_state(model_id), state.to_bytes())
            await pipe.execute()

    async def firing_keys(self, model_id: str) -> list[str]:
        return [text(k) for k in await self._redis.hkeys(keys.firing_alerts(model_id))]
