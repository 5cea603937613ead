"""`python -m auditflow.generator`, on uvloop when it is installed.

uvloop's C event loop and transports cut the per-message cost of the AMQP client's many small
callbacks and futures (see bench/CHANGES.md); the stdlib loop remains the fallback.
"""

import asyncio
import contextlib

from auditflow.generator import SERVICE
from auditflow.generator.app import build
from auditflow.runtime import run

if __name__ == "__main__":
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    run(SERVICE, build)
