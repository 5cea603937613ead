"""`python -m drills.netfault`: the fault proxy program (supervised by the sandbox).

    python -m drills.netfault --control 28145 --token-file conf/netfault-token \\
        --route analysis-rabbitmq=28146:28100 --route analysis-postgres=28147:28110 …

Every route listens on 127.0.0.1 and relays to the same host. The token is read from a file
(mode 0600, written by the sandbox) so it never shows in `ps`. Runs on uvloop when it is
installed, like the services it sits between. Logs are logfmt lines on stderr (the post-mortem's
log evidence reads them). SIGTERM closes every listener and resets what is still connected.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from drills.netfault.control import Control
from drills.netfault.route import Route

HOST = "127.0.0.1"


class _Logfmt(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        extra = " ".join(f"{k}={_quote(v)}" for k, v in fields.items())
        base = (
            f"ts={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}Z "
            f"level={record.levelname.lower()} msg={_quote(record.getMessage())}"
        )
        line = f"{base} {extra}".rstrip()
        if record.exc_info:
            line += " error=" + _quote(self.formatException(record.exc_info).replace("\n", " | "))
        return line


def _quote(value: object) -> str:
    text = str(value)
    return f'"{text}"' if any(c in text for c in ' ="') else text


def parse_route(text: str) -> tuple[str, int, int]:
    """`name=listen:upstream` → (name, listen port, upstream port)."""
    name, _, ports = text.partition("=")
    listen, _, upstream = ports.partition(":")
    if not name or not listen.isdigit() or not upstream.isdigit():
        raise argparse.ArgumentTypeError(f"--route {text!r}: expected NAME=LISTEN_PORT:UPSTREAM")
    return name, int(listen), int(upstream)


async def serve(control_port: int, routes: list[Route], token: str) -> None:
    """Listen on every route and the control port until SIGTERM / SIGINT."""
    for route in routes:
        await route.start()
    control = Control({r.name: r for r in routes}, token)
    server = await asyncio.start_server(control.handle, HOST, control_port, reuse_address=True)
    logging.getLogger("netfault").info(
        "listening",
        extra={"fields": {"control": control_port, "routes": ",".join(r.name for r in routes)}},
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    for route in routes:
        await route.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drills.netfault")
    parser.add_argument("--control", type=int, required=True, help="control port (loopback)")
    parser.add_argument("--token-file", type=Path, required=True)
    parser.add_argument("--route", type=parse_route, action="append", default=[])
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Logfmt())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    token = args.token_file.read_text().strip()
    if not token:
        parser.error(f"{args.token_file}: empty token")
    routes = [Route(name, HOST, listen, upstream) for name, listen, upstream in args.route]
    with contextlib.suppress(ImportError):
        import uvloop  # noqa: PLC0415 - optional: only when installed

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(serve(args.control, routes, token))
    return 0


if __name__ == "__main__":
    sys.exit(main())
