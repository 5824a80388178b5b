"""The per-model lease on a real Redis: one holder at a time, a dead holder's lease lapses, and a holder
releases only its own lease."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from driftline.streams.state import keys
from driftline.streams.state.lease import RedisModelLeases

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    c = aioredis.Redis.from_url(redis_url)
    yield c
    await c.aclose()


async def test_holders_of_one_model_take_turns(client: aioredis.Redis) -> None:
    model = f"m-{uuid.uuid4().hex[:8]}"
    a, b = RedisModelLeases(client, owner="a"), RedisModelLeases(client, owner="b")
    inside: list[str] = []
    overlaps = 0

    async def work(locks: RedisModelLeases, name: str) -> None:
        nonlocal overlaps
        for _ in range(20):
            async with locks.hold(model):
                overlaps += bool(inside)
                inside.append(name)
                await asyncio.sleep(0.002)
                inside.remove(name)

    await asyncio.gather(work(a, "a"), work(b, "b"))
    assert overlaps == 0
    assert await client.exists(keys.model_lease(model)) == 0  # released


async def test_a_killed_holders_lease_lapses_and_a_late_release_frees_nothing(client: aioredis.Redis) -> None:
    model = f"m-{uuid.uuid4().hex[:8]}"
    dead = RedisModelLeases(client, ttl_seconds=0.3, owner="dead")
    holding = dead.hold(model)
    stale_token = await holding.__aenter__()  # never left: the worker was killed while holding
    began = time.monotonic()
    async with RedisModelLeases(client, owner="alive").hold(model) as token:
        assert 0.2 < time.monotonic() - began < 3
        assert token.startswith("alive:") and token != stale_token
        await holding.__aexit__(None, None, None)  # the paused one wakes up and releases: not ours any more
        assert await client.get(keys.model_lease(model)) == token.encode()
