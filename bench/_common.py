"""What every benchmark shares: its own sandbox (always purged), clients, ledgers and JSON output.

Each benchmark brings up a private sandbox in a temporary state directory on its own port block
(29000-29299, away from the developer's 28100 and the test suite's blocks) and brings it down with
`--purge` in a `finally`. SIGTERM and SIGHUP are turned into `KeyboardInterrupt` so that Ctrl-C, a
closed terminal or `kill <pid>` all run that `finally`: a benchmark never leaves a broker behind.
Processes are only ever stopped through the sandbox's own supervisord (by the PIDs it started).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # appended: PYTHONPATH=<older tree> still wins for A/B runs

from drills.sandbox.connections import amqp_url, pg_dsn  # noqa: E402
from drills.sandbox.lifecycle import Sandbox, down, resolve, up  # noqa: E402
from drills.sandbox.procfs import descendants, tree_cpu_seconds, tree_rss_bytes  # noqa: E402
from drills.sandbox.smoke import GeneratorAdmin  # noqa: E402
from drills.settings import Settings  # noqa: E402

# One port block per benchmark, so two benchmarks (or a benchmark and the tests) never collide.
PORT_BASES = {
    "pipeline": 29000,
    "drain": 29050,
    "restore": 29100,
    "drill-overhead": 29150,
    "footprint": 29200,
    "up": 29250,
    "netproxy": 29300,
}


MAX_BURST = 100_000  # the generator's buffer size: the most one /admin/burst call accepts


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def install_signal_handlers() -> None:
    """SIGTERM/SIGHUP → KeyboardInterrupt, so every `finally` (sandbox purge) runs."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)


def log(message: str) -> None:
    """Progress goes to stderr; stdout carries only the one JSON object."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    """What the figures were measured on (they mean little without it)."""
    mem_kib = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def emit(result: dict[str, Any]) -> None:
    """The benchmark's single JSON object, on stdout."""
    print(json.dumps(result, indent=2, sort_keys=False, default=str), flush=True)


@dataclass
class Bench:
    """A running sandbox with the clients benchmarks need."""

    sandbox: Sandbox
    up_seconds: float

    @property
    def settings(self) -> Settings:
        return self.sandbox.settings

    def port(self, component: str) -> int:
        return self.settings.ports.of(component)

    @property
    def amqp_url(self) -> str:
        return amqp_url(self.port("rabbitmq"), self.sandbox.secrets).reveal()

    @property
    def pg_dsn(self) -> str:
        return pg_dsn(self.port("postgres"), self.sandbox.secrets).reveal()

    @property
    def pg_admin_dsn(self) -> str:
        """The superuser on the application's database."""
        secrets = self.sandbox.secrets
        return pg_dsn(self.port("postgres"), secrets, superuser=True, dbname="auditflow").reveal()

    def pg(self, admin: bool = False) -> psycopg.Connection[Any]:
        return psycopg.connect(self.pg_admin_dsn if admin else self.pg_dsn, autocommit=True)

    def generator(self) -> GeneratorAdmin:
        return GeneratorAdmin(
            f"http://127.0.0.1:{self.port('audit-event-generator')}",
            self.sandbox.secrets.admin_token.reveal(),
        )

    def stop(self, program: str) -> None:
        self.sandbox.supervisor.stop(program, True)

    def start(self, program: str) -> None:
        self.sandbox.supervisor.start(program, True)

    def pids(self) -> dict[str, int]:
        return {info.name: info.pid for info in self.sandbox.supervisor.processes() if info.pid}

    def cpu_by_component(self, names: tuple[str, ...]) -> dict[str, float]:
        """CPU seconds used so far by each named program's process tree."""
        pids = self.pids()
        return {name: tree_cpu_seconds(pids[name]) for name in names if name in pids}

    def pss_by_component(self) -> dict[str, int]:
        """Like `rss_by_component` but proportional (shared memory counted once overall)."""
        sizes = {name: tree_pss_bytes(pid) for name, pid in self.pids().items()}
        daemon = self.sandbox.supervisor.daemon_pid()
        if daemon:
            sizes["supervisord"] = _pss_of(daemon)
        return sizes

    def rss_by_component(self) -> dict[str, int]:
        """Resident memory of each program's process tree, plus supervisord itself."""
        sizes = {name: tree_rss_bytes(pid) for name, pid in self.pids().items()}
        daemon = self.sandbox.supervisor.daemon_pid()
        if daemon:
            sizes["supervisord"] = _rss_of(daemon)
        return sizes

    def drill_argv(self, drill: str, runs: Path) -> list[str]:
        """`genesis-drill run DRILL` on this sandbox, JSON output, run directories in `runs`."""
        return [
            str(Path(sys.executable).with_name("genesis-drill")),
            "run",
            drill,
            "--state-dir",
            str(self.settings.state_dir),
            "--port-base",
            str(self.settings.port_base),
            "--runs-dir",
            str(runs),
            "--output",
            "json",
        ]

    def stored(self, run_id: str, first_seq: int, last_seq: int) -> tuple[int, int]:
        """(rows, distinct seqs) of `run_id` in [first_seq, last_seq]: the ledger's two counts."""
        with self.pg() as conn:
            row = conn.execute(
                "SELECT count(*), count(DISTINCT seq) FROM audit_events "
                "WHERE run_id = %s AND seq BETWEEN %s AND %s",
                (run_id, first_seq, last_seq),
            ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)


def _pss_of(pid: int) -> int:
    """Proportional set size: shared pages (PostgreSQL's shared buffers, the interpreter's
    libraries) divided among the processes sharing them, so a sum over processes is honest."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return 0
    return 0


def tree_pss_bytes(root: int) -> int:
    return sum(_pss_of(pid) for pid in (root, *descendants(root)))


def _rss_of(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return 0
    return 0


@contextlib.contextmanager
def sandbox(name: str, python: str | None = None) -> Iterator[Bench]:
    """A private sandbox for benchmark `name`; always stopped and purged afterwards.

    `python` runs the AuditFlow services with another interpreter or wrapper (A/B comparisons of
    an older tree: a script that sets PYTHONPATH and execs the venv's python).
    """
    install_signal_handlers()
    state = Path(tempfile.mkdtemp(prefix=f"genesis-bench-{name}-"))
    # GENESIS_BENCH_PORT_BASE moves the sandbox when its block is taken (a test run, another bench).
    port_base = int(os.environ.get("GENESIS_BENCH_PORT_BASE") or PORT_BASES[name])
    settings = Settings(state_dir=state, port_base=port_base)
    if python:
        settings = replace(settings, python=python)
    log(f"platform up on port block {settings.port_base} in {state}")
    try:
        report = up(settings)
        log(f"platform ready in {report.seconds:.1f} s")
        yield Bench(resolve(settings), report.seconds)
    finally:
        # Ignore a second Ctrl-C while cleaning up: an interrupted purge is what leaks brokers.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            log("platform down --purge")
            down(settings, purge=True)
        finally:
            signal.signal(signal.SIGINT, previous)
            shutil.rmtree(state, ignore_errors=True)


def wait_until(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """Poll `condition` until truthy; raise TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def burst_and_confirm(
    bench: Bench, count: int, timeout: float = 600.0
) -> tuple[str, int, int, float]:
    """Pause steady load, publish a burst of `count` through the generator, wait for every confirm.

    Returns (run_id, first_seq, last_seq, seconds to confirm all).
    """
    admin = bench.generator()
    try:
        admin.set_rate(0)
        time.sleep(0.3)
        before = admin.stats()
        wait_until(lambda: admin.stats()["buffered"] == 0, 60, "generator buffer empty")
        before = admin.stats()
        started = time.monotonic()
        for start in range(0, count, MAX_BURST):  # the admin API takes ≤ buffer max per call
            admin.burst(min(MAX_BURST, count - start))
        target = int(before["generated"]) + count

        def done() -> dict[str, Any] | None:
            stats = admin.stats()
            if int(stats["generated"]) >= target and int(stats["buffered"]) == 0:
                return stats
            return None

        stats = wait_until(done, timeout, f"{count} events confirmed by the broker", every=0.05)
        seconds = time.monotonic() - started
    finally:
        admin.close()
    run_id = str(stats["run_id"])
    first = int(before["last_seq"]) + 1 if before["run_id"] == run_id else 1
    return run_id, first, int(stats["last_seq"]), seconds


def ledger(bench: Bench, run_id: str, first: int, last: int) -> dict[str, int]:
    """Confirmed vs stored for one run's seq range: lost and duplicated must both be 0."""
    rows, distinct = bench.stored(run_id, first, last)
    confirmed = last - first + 1
    return {
        "confirmed": confirmed,
        "stored": distinct,
        "lost": max(0, confirmed - distinct),
        "duplicated": rows - distinct,
    }
