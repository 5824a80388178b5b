"""The Lua scripts of the Redis state, read from ``lua/*.lua`` beside this module (package data)."""

from __future__ import annotations

import functools
from importlib import resources


@functools.cache
def script(name: str) -> str:
    """The text of ``lua/<name>.lua``.

    >>> script("release_lease").splitlines()[1]
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end"
    """
    return (resources.files(__package__) / "lua" / f"{name}.lua").read_text(encoding="utf-8")
