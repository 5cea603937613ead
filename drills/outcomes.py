"""The generator's per-seq publish outcomes for a canary range (`GET /admin/outcomes`), read
strictly and checked against the range before the ledger trusts them.

The generator defines each sequence number's *final status* over all its publish attempts
(auditflow/generator/outcomes.py): `ok` if some attempt was confirmed; `info` if none was and at
least one attempt's outcome is unknown (confirm lost with the connection, timed out, or still
outstanding); `fail` if every attempt was nacked or returned; `unpublished` if it was generated but
never published. Every sequence number that is not `ok` is still in the generator's buffer, so the
non-`ok` sets are bounded and come as intervals; `ok` is the rest of the range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drills.errors import OutcomesUnavailable
from drills.intervals import Intervals, normalise, size, span, subtract, union

_COUNTS = ("generated", "ok", "info", "fail", "unpublished", "had_info", "had_fail")
_SETS = ("info_seqs", "fail_seqs", "unpublished_seqs")


@dataclass(frozen=True)
class PublishOutcomes:
    """Final publish status of every sequence number of `[first, last]` of one run."""

    run_id: str
    first: int
    last: int
    known_from: int
    ok: int
    had_info: int
    had_fail: int
    info_seqs: Intervals
    fail_seqs: Intervals
    unpublished_seqs: Intervals

    @property
    def not_ok(self) -> Intervals:
        return union(union(self.info_seqs, self.fail_seqs), self.unpublished_seqs)

    @property
    def ok_seqs(self) -> Intervals:
        return subtract(span(self.first, self.last), self.not_ok)

    @classmethod
    def from_json(cls, raw: object, run_id: str, first: int, last: int) -> PublishOutcomes:
        """The generator's answer for the canary range `[first, last]` of `run_id`, or
        OutcomesUnavailable naming the field that is missing, mistyped or inconsistent."""
        if not isinstance(raw, dict):
            raise OutcomesUnavailable(
                f"/admin/outcomes answered {type(raw).__name__}, not an object"
            )
        values = {name: _integer(raw, name) for name in (*_COUNTS, "first", "last", "known_from")}
        sets = {name: _intervals(raw, name) for name in _SETS}
        if raw.get("run_id") != run_id:
            raise OutcomesUnavailable(
                f"/admin/outcomes is for run {raw.get('run_id')!r}, not {run_id!r} "
                "(the generator restarted)"
            )
        if raw.get("truncated") is not False:
            raise OutcomesUnavailable("/admin/outcomes cut its list of seqs short (truncated)")
        if (values["first"], values["last"]) != (first, last):
            raise OutcomesUnavailable(
                f"/admin/outcomes answered for [{values['first']}, {values['last']}], "
                f"not [{first}, {last}]"
            )
        if values["known_from"] > first:
            raise OutcomesUnavailable(
                f"the generator keeps outcomes only from seq {values['known_from']} on "
                f"(range starts at {first})"
            )
        outcomes = cls(
            run_id=run_id,
            first=first,
            last=last,
            known_from=values["known_from"],
            ok=values["ok"],
            had_info=values["had_info"],
            had_fail=values["had_fail"],
            info_seqs=sets["info_seqs"],
            fail_seqs=sets["fail_seqs"],
            unpublished_seqs=sets["unpublished_seqs"],
        )
        outcomes._check_consistent(values)
        return outcomes

    def _check_consistent(self, values: dict[str, int]) -> None:
        expected = max(0, self.last - self.first + 1)
        parts = {
            name: size(getattr(self, f"{name}_seqs")) for name in ("info", "fail", "unpublished")
        }
        problems = [
            f"{name} = {values[name]} but its seqs number {parts[name]}"
            for name in parts
            if values[name] != parts[name]
        ]
        if values["generated"] != expected:
            problems.append(f"generated = {values['generated']}, the range holds {expected}")
        if size(self.not_ok) != sum(parts.values()):
            problems.append("the info, fail and unpublished seqs overlap")
        if subtract(self.not_ok, span(self.first, self.last)):
            problems.append("seqs outside the range are listed")
        if self.ok != size(self.ok_seqs):
            problems.append(f"ok = {self.ok} but the range leaves {size(self.ok_seqs)}")
        if problems:
            raise OutcomesUnavailable("/admin/outcomes is inconsistent: " + "; ".join(problems))


def _integer(raw: dict[str, Any], name: str) -> int:
    value = raw.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise OutcomesUnavailable(f"/admin/outcomes: {name!r} is not a count: {value!r}")
    return value


def _intervals(raw: dict[str, Any], name: str) -> Intervals:
    value = raw.get(name)
    if not isinstance(value, list):
        raise OutcomesUnavailable(f"/admin/outcomes: {name!r} is not a list: {value!r}"[:200])
    try:
        return normalise(item if isinstance(item, list) else [item] for item in value)
    except ValueError as exc:
        raise OutcomesUnavailable(f"/admin/outcomes: {name!r}: {exc}"[:200]) from None
