"""malformed-events: publish malformed messages of every kind among the valid load.

Each message is broken in exactly one way (drills.faults.malformed_strategies), tagged with a
unique message id and the run's nonce header, and published persistent with publisher confirms.
Verification reads the dead-letter queue back: every message must be there with the reason its
construction predicts, and the consumer must not have restarted. Rollback has nothing to undo
(publishing stops when the fault's hold ends or the run is stopped); it only drains this run's
copies from the dead-letter queue so repeated drills do not accumulate them.

A target that can publish from inside its cluster (`InClusterPublisher`, the Kubernetes target
with GENESIS_K8S_MALFORMED_VIA=job) runs this module as a Job instead
(`python -m drills.faults.malformed_events --nonce N --count C --seed S --interval I`, broker URL
in AUDITFLOW_AMQP_URL): the same seed draws the same messages under the same ids.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import uuid
from collections import Counter
from typing import Protocol, runtime_checkable

import pika
import pika.exceptions

from auditflow import topology
from drills.errors import TargetError
from drills.faults.base import Check, FaultContext, FaultReport, Injection
from drills.faults.malformed_strategies import Malformed, draw_examples

DRILL_HEADER = "x-genesis-drill"
DLQ_WAIT_S = 30.0


@runtime_checkable
class InClusterPublisher(Protocol):
    """A target that publishes the malformed messages from inside its cluster (a Job)."""

    def publishes_malformed_in_cluster(self) -> bool: ...

    def publish_malformed(self, nonce: str, count: int, seed: int, interval_s: float) -> None: ...


class MalformedEvents:
    kind = "malformed-events"

    def __init__(self, count: int, interval_s: float, seed: int) -> None:
        self.count = count
        self.interval_s = interval_s
        self.seed = seed
        self.nonce = uuid.uuid4().hex
        self.messages: list[Malformed] = []
        self.sent: dict[str, Malformed] = {}
        self.consumer_before: str | None = None

    def plan(self, ctx: FaultContext) -> list[str]:
        return [
            f"publish {self.count} malformed messages (8 kinds, hypothesis seed {self.seed}) to "
            f"exchange {topology.EXCHANGE}, one every {self.interval_s:g} s, among the valid load",
            f"verify: each lands in {topology.DEAD_LETTER_QUEUE} with its reason; "
            f"{ctx.spec.target} does not restart",
            "rollback: nothing to undo; this run's dead-letter copies are drained",
        ]

    def preflight(self, ctx: FaultContext) -> list[str]:
        self.messages = draw_examples(self.count, self.seed)
        state = ctx.target.state(ctx.spec.target)
        self.consumer_before = state.pid_or_uid
        return [] if state.ready else [f"{ctx.spec.target} is not running and ready"]

    def _connect(self, ctx: FaultContext) -> pika.BlockingConnection:
        try:
            return pika.BlockingConnection(pika.URLParameters(ctx.endpoints.amqp_url.reveal()))
        except pika.exceptions.AMQPError as exc:
            raise TargetError(f"cannot connect to RabbitMQ: {type(exc).__name__}") from exc

    def inject(self, ctx: FaultContext) -> Injection:
        if not self.messages:
            self.messages = draw_examples(self.count, self.seed)
        at = time.time()
        return Injection(
            at,
            "journal",
            {"nonce": self.nonce, "count": len(self.messages), "seed": self.seed},
        )

    def hold(self, ctx: FaultContext, injection: Injection) -> None:
        target = ctx.target
        if isinstance(target, InClusterPublisher) and target.publishes_malformed_in_cluster():
            target.publish_malformed(self.nonce, len(self.messages), self.seed, self.interval_s)
            self.sent = {f"{self.nonce}-{i}": m for i, m in enumerate(self.messages)}
        else:
            connection = self._connect(ctx)
            try:
                publish(connection, self.messages, self.nonce, self.interval_s, ctx.stop, self.sent)
            except pika.exceptions.AMQPError as exc:
                raise TargetError(f"publishing malformed messages failed: {exc!r}") from exc
            finally:
                _close(connection)
        ctx.emit("fault", {"published_malformed": len(self.sent)})

    def rollback(self, ctx: FaultContext) -> None:
        return None  # publishing has stopped; there is no state to restore

    def _collect_dead_letters(self, ctx: FaultContext) -> dict[str, str]:
        """message id → reason header, for this run's messages found in the DLQ (acked)."""
        found: dict[str, str] = {}
        connection = self._connect(ctx)
        deadline = time.monotonic() + DLQ_WAIT_S
        try:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=500)
            while len(found) < len(self.sent) and time.monotonic() < deadline:
                method, properties, _body = channel.basic_get(topology.DEAD_LETTER_QUEUE)
                if method is None:
                    time.sleep(0.2)
                    continue
                headers = properties.headers or {}
                if headers.get(DRILL_HEADER) == self.nonce:
                    channel.basic_ack(method.delivery_tag)
                    found[str(properties.message_id)] = str(headers.get(topology.REASON_HEADER))
                else:
                    # Not ours: leave it for whoever owns it (requeued when the channel closes).
                    pass
        except pika.exceptions.AMQPError as exc:
            raise TargetError(f"reading the dead-letter queue failed: {exc!r}") from exc
        finally:
            _close(connection)
        return found

    def verify(self, ctx: FaultContext, injection: Injection) -> FaultReport:
        found = self._collect_dead_letters(ctx)
        wrong = {
            mid: (self.sent[mid].expected_reason, reason)
            for mid, reason in found.items()
            if mid in self.sent and reason != self.sent[mid].expected_reason
        }
        missing = [mid for mid in self.sent if mid not in found]
        after = ctx.target.state(ctx.spec.target)
        by_kind = Counter(m.kind for m in self.sent.values())
        return FaultReport(
            figures={
                "malformed_published": len(self.sent),
                "malformed_dead_lettered": len(found),
                "malformed_missing": len(missing),
                "wrong_reason": len(wrong),
                "kinds": ", ".join(f"{kind}={n}" for kind, n in sorted(by_kind.items())),
                "consumer_restarts": 0 if after.pid_or_uid == self.consumer_before else 1,
            },
            checks=(
                Check(
                    "every malformed message dead-lettered",
                    not missing,
                    f"{len(found)}/{len(self.sent)} found in {topology.DEAD_LETTER_QUEUE}",
                ),
                Check(
                    "dead-letter reason matches the kind of damage",
                    not wrong,
                    "all reasons as constructed"
                    if not wrong
                    else f"{len(wrong)} wrong, e.g. {next(iter(wrong.values()))}",
                ),
                Check(
                    "consumer never restarted",
                    after.pid_or_uid == self.consumer_before,
                    f"pid {self.consumer_before} → {after.pid_or_uid}",
                ),
            ),
            ready_at=injection.at,
        )


def publish(
    connection: pika.BlockingConnection,
    messages: list[Malformed],
    nonce: str,
    interval_s: float,
    stop: threading.Event,
    sent: dict[str, Malformed],
) -> None:
    """Publish each message persistent with confirms, tagged `<nonce>-<index>`; record in `sent`."""
    channel = connection.channel()
    channel.confirm_delivery()
    for index, message in enumerate(messages):
        if stop.is_set():
            break
        message_id = f"{nonce}-{index}"
        channel.basic_publish(
            topology.EXCHANGE,
            topology.routing_key("read"),
            message.body,
            pika.BasicProperties(
                content_type=message.content_type,
                delivery_mode=2,
                message_id=message_id,
                headers={DRILL_HEADER: nonce},
            ),
        )
        sent[message_id] = message
        if interval_s:
            stop.wait(interval_s)


def main(argv: list[str] | None = None) -> int:
    """The in-cluster publisher Job's entry point (see `InClusterPublisher`)."""
    parser = argparse.ArgumentParser(prog="python -m drills.faults.malformed_events")
    parser.add_argument("--nonce", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--interval", type=float, default=0.0)
    args = parser.parse_args(argv)
    url = os.environ.get("AUDITFLOW_AMQP_URL")
    if not url:
        parser.error("AUDITFLOW_AMQP_URL is not set")
    sent: dict[str, Malformed] = {}
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        publish(
            connection,
            draw_examples(args.count, args.seed),
            args.nonce,
            args.interval,
            threading.Event(),
            sent,
        )
    finally:
        _close(connection)
    print(f"published {len(sent)} malformed messages for {args.nonce}")
    return 0


def _close(connection: pika.BlockingConnection) -> None:
    try:
        if connection.is_open:
            connection.close()
    except pika.exceptions.AMQPError:
        pass


if __name__ == "__main__":
    raise SystemExit(main())
