"""Staying connected to RabbitMQ: the back-off policy and loop of the consumer and the publisher.

The analysis consumer and the generator's publisher each own their connection (not aio-pika's
`connect_robust`), so that "the connection is gone" is one explicit step in each. What they share
lives here: connect, serve until stopped or lost, and after any failure wait and try again —
0.2 s, then twice as long per failed attempt up to 1 s, and from 0.2 s again once a connection is
up. The wait ends early when the service is told to stop. There is no jitter, as before: both
services run as one instance (manifests/base/auditflow/services.yaml), so there is no crowd of
clients whose retries would need spreading out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

FIRST_DELAY_S = 0.2
# Reconnect attempts are cheap (one TCP connect); a short ceiling means the service is back within
# a second of the broker (it boots in 7-20 s at `platform up`; the outage drill restarts it), where
# 5 s left it waiting up to 5 s longer than the broker did.
MAX_DELAY_S = 1.0


@dataclass
class Backoff:
    """Delays between reconnect attempts: `first`, times `factor` per failure, at most `ceiling`."""

    first: float = FIRST_DELAY_S
    ceiling: float = MAX_DELAY_S
    factor: float = 2.0
    _next: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.first <= self.ceiling or self.factor < 1:
            raise ValueError(
                f"back-off needs 0 < first <= ceiling and factor >= 1, got first={self.first}, "
                f"ceiling={self.ceiling}, factor={self.factor}"
            )
        self._next = self.first

    @property
    def delay(self) -> float:
        """How long the wait after the next failure will be."""
        return self._next

    def failed(self) -> float:
        """The wait after this failure; the one after the next failure is longer, up to the
        ceiling."""
        delay = self._next
        self._next = min(delay * self.factor, self.ceiling)
        return delay

    def succeeded(self) -> None:
        """A connection is up: the next loss is retried quickly again."""
        self._next = self.first


def error_text(exc: BaseException) -> str:
    """An error as one bounded log field (broker errors can carry whole frames)."""
    return f"{type(exc).__name__}: {exc}"[:300]


async def keep_connected(
    connect: Callable[[], Awaitable[None]],
    serve: Callable[[], Awaitable[None]],
    stop: asyncio.Event,
    on_failure: Callable[[Exception, float], Awaitable[None]],
    *,
    after_attempt: Callable[[], Awaitable[None]] | None = None,
    backoff: Backoff | None = None,
) -> None:
    """Connect and serve until `stop` is set, reconnecting after every failure.

    `serve` returns once `stop` is set and raises when the connection is lost. Any exception
    from `connect` or `serve` is passed to `on_failure` with the wait that follows it (the
    service logs it and, if it wants, tears down there); `after_attempt` runs after every
    attempt, failed, stopped or cancelled. Cancellation is never swallowed.
    """
    backoff = backoff or Backoff()
    while not stop.is_set():
        try:
            await connect()
            backoff.succeeded()
            await serve()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await on_failure(exc, backoff.delay)
        finally:
            if after_attempt is not None:
                await after_attempt()
        if stop.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), backoff.failed())
