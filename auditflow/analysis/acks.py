"""How to acknowledge a committed batch without acknowledging anything still unsettled.

One `basic.ack(multiple=True)` of the batch's highest delivery tag is far cheaper than one ack
per message, but it also acknowledges every lower tag on the channel. Batches are formed in
delivery order, so the only lower tags that may still be unsettled belong to malformed messages
whose dead-letter copy is not confirmed yet; while one of those is below the batch's highest tag,
the batch is acknowledged message by message instead. Pure logic.
"""

from __future__ import annotations


class AckPlanner:
    """Tracks dead-letters in progress; plans acks as (delivery_tag, multiple) pairs."""

    def __init__(self) -> None:
        self._dead_letters: set[int] = set()

    def dead_letter_started(self, tag: int) -> None:
        self._dead_letters.add(tag)

    def dead_letter_finished(self, tag: int) -> None:
        self._dead_letters.discard(tag)

    def reset(self) -> None:
        """A new channel: delivery tags start again at 1."""
        self._dead_letters.clear()

    def plan(self, tags: list[int]) -> list[tuple[int, bool]]:
        """Acks for a committed batch with delivery `tags` (in delivery order)."""
        if not tags:
            return []
        highest = max(tags)
        if any(tag < highest for tag in self._dead_letters):
            return [(tag, False) for tag in tags]
        return [(highest, True)]
