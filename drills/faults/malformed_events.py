"""malformed-events: publish malformed messages of every kind among the valid load.

Each message is broken in exactly one way (drills.faults.malformed_strategies), tagged with a
unique message id and the run's nonce header, and published persistent with publisher confirms.
Verification reads the dead-letter queue back: every message must be there with the reason its
construction predicts, and the consumer must not have restarted. Rollback has nothing to undo
(publishing stops when the fault's hold ends or the run is stopped); it only drains this run's
copies from the dead-letter queue so repeated drills do not accumulate them.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter

import pika
import pika.exceptions

from auditflow import topology
from drills.errors import TargetError
from drills.faults.base import Check, FaultContext, FaultReport, Injection
from drills.faults.malformed_strategies import Malformed, draw_examples

DRILL_HEADER = "x-genesis-drill"
DLQ_WAIT_S = 30.0


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
            return pika.BlockingConnection(pika.URLParameters(ctx.endpoints.amqp_url))
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
        connection = self._connect(ctx)
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            for index, message in enumerate(self.messages):
                if ctx.stop.is_set():
                    break
                message_id = f"{self.nonce}-{index}"
                channel.basic_publish(
                    topology.EXCHANGE,
                    topology.routing_key("read"),
                    message.body,
                    pika.BasicProperties(
                        content_type=message.content_type,
                        delivery_mode=2,
                        message_id=message_id,
                        headers={DRILL_HEADER: self.nonce},
                    ),
                )
                self.sent[message_id] = message
                if self.interval_s:
                    ctx.stop.wait(self.interval_s)
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


def _close(connection: pika.BlockingConnection) -> None:
    try:
        if connection.is_open:
            connection.close()
    except pika.exceptions.AMQPError:
        pass
