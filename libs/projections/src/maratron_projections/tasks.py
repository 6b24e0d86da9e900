"""Stopping background tasks for sure.

On Python 3.11, `asyncio.wait_for` swallows a cancellation that arrives just as the awaited
future completes (fixed in 3.12). Code that follows the store (`EventStore.subscribe` waits for
notifications that way) can therefore survive one `cancel()`; cancel until it is done.
"""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any], *, retry_s: float = 0.1) -> None:
    """Cancel `task` (again and again if it swallows the cancellation) until it has finished."""
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=retry_s)
