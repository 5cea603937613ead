"""Every fault kind's parameters: their types, defaults, bounds and the checks at load time.

Drill files (`drills.spec`) and game-day plans (`drills.gameday.plan`, whose steps may override a
drill's params) check parameters with the same table, so a value refused in one is refused in the
other with the same file:line: field: why. A parameter that is parsed must be acted on: one that
only means something beside another (`told_within_s` without `heartbeat`) is an error here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drills.netfault.faults import MAX_BANDWIDTH_KBPS, MAX_LATENCY_MS, MODE_PARAMS, MODES
from drills.netfault.routes import ROUTES
from drills.yamlnode import Node, fields_of

FAULT_KINDS = (
    "process-kill",
    "process-freeze",
    "bad-deploy",
    "service-stop",
    "malformed-events",
    "pvc-wipe-restore",
    "table-lock",
    "network",
)
# A drill, its baseline, its abort and its objectives are at most a day.
DAY_S = 24 * 3600.0
MAX_COUNT = 1_000_000  # malformed events, lost/duplicated events
MAX_SEED = 2**32 - 1
SIGNALS = ("KILL", "TERM", "INT", "QUIT")
# Values a parameter refuses with a pointer to what the user meant (value → why / instead).
SIGNAL_HINTS = (
    (
        "STOP",
        "SIGSTOP freezes the process instead of killing it: use fault kind process-freeze, "
        "with duration_s (how long it stays frozen; rollback continues it)",
    ),
)


# Fault kinds that act on one component only (its deploy-time configuration is theirs).
FAULT_COMPONENTS: dict[str, tuple[str, ...]] = {"bad-deploy": ("audit-log-analysis",)}


def check_component(kind: str, component: str, node: Node) -> None:
    """Refuse a target the fault kind cannot act on (`node`: the target block, for its line)."""
    allowed = FAULT_COMPONENTS.get(kind)
    if allowed is not None and component not in allowed:
        raise node.fail(
            f"{kind} deploys only {', '.join(allowed)} (the component with a deploy-time "
            f"configuration the drill can break), got {component!r}"
        )


@dataclass(frozen=True)
class Param:
    """One fault parameter: its type, default and allowed range or values."""

    type: type
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""
    # A drill file must give it (a game-day step that overrides other parameters need not).
    required: bool = False
    hints: tuple[tuple[str, str], ...] = ()


# Every fault kind's parameters, checked at load time with the file's line numbers.
FAULT_PARAMS: dict[str, dict[str, Param]] = {
    "process-kill": {
        "signal": Param(
            str,
            "KILL",
            choices=SIGNALS,
            help="signal sent to the process group",
            hints=SIGNAL_HINTS,
        ),
    },
    "process-freeze": {
        "duration_s": Param(
            float,
            None,
            minimum=1,
            maximum=3600,
            required=True,
            help="how long the processes stay stopped (SIGSTOP) before rollback continues them",
        ),
    },
    "bad-deploy": {
        # The names of drills.faults.bad_deploy.BREAKAGES (a test keeps them equal).
        "breakage": Param(
            str,
            None,
            choices=("reject-all", "crash-on-start"),
            required=True,
            help="the broken build: every event fails validation, or it exits at start",
        ),
        "rollback": Param(
            str,
            "automated",
            choices=("automated", "responder"),
            help="automated: the harness rolls back on detection; responder: a person does",
        ),
        "rollback_by_s": Param(
            float,
            60.0,
            minimum=1,
            maximum=3600,
            help="after this long the harness rolls back itself: the platform is never left broken",
        ),
    },
    "service-stop": {
        "duration_s": Param(
            float, 20.0, minimum=0.5, maximum=DAY_S, help="how long the component stays down"
        ),
        "mode": Param(str, "kill", choices=("kill", "term"), help="kill -9 or a graceful stop"),
        "check_counters": Param(
            bool, False, help="after recovery, the dashboard's totals must equal PostgreSQL's"
        ),
        "heartbeat": Param(
            str, "", help="a dead man's switch alert (Watchdog): MonitoringBlind must be told"
        ),
        "told_within_s": Param(
            float, 30.0, minimum=1, maximum=DAY_S, help="how soon MonitoringBlind must arrive"
        ),
    },
    "malformed-events": {
        "count": Param(
            int, 200, minimum=1, maximum=MAX_COUNT, help="malformed messages to publish"
        ),
        "interval_s": Param(
            float, 0.02, minimum=0, maximum=60, help="pause between malformed messages"
        ),
        "seed": Param(
            int, 0, minimum=0, maximum=MAX_SEED, help="seed of the hypothesis strategies"
        ),
    },
    "pvc-wipe-restore": {
        "events_after_backup_s": Param(
            float,
            10.0,
            minimum=0,
            maximum=DAY_S,
            help="load that runs after the backup, before the wipe",
        ),
        "redrive": Param(bool, True, help="replay events missing after restore from the archive"),
    },
    "table-lock": {
        # An hour at most: every write of the platform waits while it is held.
        "duration_s": Param(
            float, 30.0, minimum=1, maximum=3600, help="how long audit_events stays locked"
        ),
        # The names of drills.faults.lock_session.LOCK_MODES (a test keeps them equal).
        "mode": Param(
            str,
            "exclusive",
            choices=("exclusive", "access-exclusive"),
            help="exclusive: writes wait; access-exclusive (a migration's ALTER TABLE): reads too",
        ),
    },
    # The sandbox's fault proxy (drills.netfault); which parameters each mode takes is checked
    # by `_check_network` with drills.netfault.faults.MODE_PARAMS, the proxy's own table.
    "network": {
        "route": Param(
            str,
            None,
            choices=tuple(ROUTES),
            required=True,
            help="the proxied connections to disturb (client-server)",
        ),
        "mode": Param(
            str,
            None,
            choices=MODES,
            required=True,
            help="latency, bandwidth, blackhole (bytes dropped, connections kept open), "
            "reset (open connections reset) or partition (reset and refused)",
        ),
        "duration_s": Param(
            float,
            None,
            minimum=0,
            maximum=3600,
            required=True,
            help="how long the fault lasts (the proxy ends it by itself then); for reset, how "
            "long new connections are reset too (0: only the open ones)",
        ),
        "latency_ms": Param(
            float, 0.0, minimum=1, maximum=MAX_LATENCY_MS, help="delay added in each direction"
        ),
        "jitter_ms": Param(
            float, 0.0, minimum=0, maximum=MAX_LATENCY_MS, help="± uniform spread of the delay"
        ),
        "bandwidth_kbps": Param(
            float,
            0.0,
            minimum=1,
            maximum=MAX_BANDWIDTH_KBPS,
            help="limit per direction, kilobits per second",
        ),
    },
}
NETWORK_MIN_DURATION_S = 1.0  # every mode but reset: shorter proves nothing on a 1 s scrape


def fault_params(
    kind: str,
    node: Node | None,
    fault: Node | None = None,
    *,
    base: dict[str, Any] | None = None,
    component: str | None = None,
) -> dict[str, Any]:
    """Checked parameters, defaults filled in; `fault` (the drill's `fault` block) enforces the
    required ones — without it (a game-day step's overrides) only what is given is checked,
    together with `base` (the drill's own parameters) where parameters depend on each other.
    `component` is the drill's target (a network fault's route must carry its connections)."""
    schema = FAULT_PARAMS[kind]
    required = {name for name, p in schema.items() if p.required} if fault is not None else set()
    if node is None and required and fault is not None:
        raise fault.fail(f"{kind} needs params: {', '.join(sorted(required))}")
    given = fields_of(node, required, set(schema)) if node is not None else {}
    params: dict[str, Any] = {}
    for name, param in schema.items():
        if name not in given:
            params[name] = param.default
            continue
        child = given[name]
        if param.type is bool:
            value = child.scalar()
            if not isinstance(value, bool):
                raise child.fail(f"must be true or false, got {value!r}")
        elif param.type is int:
            high = None if param.maximum is None else int(param.maximum)
            value = child.integer(int(param.minimum or 0), high)
        elif param.type is float:
            value = child.number(param.minimum, maximum=param.maximum)
        else:
            value = child.text()
            hint = dict(param.hints).get(value)
            if hint is not None:
                raise child.fail(f"{value!r} is not accepted here: {hint}")
            if param.choices and value not in param.choices:
                raise child.fail(f"must be one of {', '.join(param.choices)}, got {value!r}")
        params[name] = value
    if "told_within_s" in given and not params.get("heartbeat"):  # parsed, never acted on
        raise given["told_within_s"].fail("applies only with `heartbeat` (the dead man's switch)")
    if kind == "network":
        _check_network({**(base or {}), **{k: params[k] for k in given}}, given, fault, component)
    return params


def _check_network(
    values: dict[str, Any], given: dict[str, Node], fault: Node | None, component: str | None
) -> None:
    """Each mode takes its own parameters and no other (one given but not acted on is an
    error), and the route must carry the drill's target's connections."""
    where = fault if fault is not None else next(iter(given.values()), None)
    mode = values.get("mode")
    if mode is None or where is None:
        return
    for name in ("latency_ms", "jitter_ms", "bandwidth_kbps"):
        if name in given and name not in MODE_PARAMS[mode]:
            takes = ", ".join(("duration_s", *MODE_PARAMS[mode]))
            raise given[name].fail(f"not a parameter of mode {mode} (it takes {takes})")
    needs = {"latency": "latency_ms", "bandwidth": "bandwidth_kbps"}.get(mode)
    if needs is not None and not values.get(needs):
        raise (given.get("mode") or where).fail(f"mode {mode} needs params.{needs}")
    duration = values.get("duration_s")
    if mode != "reset" and duration is not None and duration < NETWORK_MIN_DURATION_S:
        node = given.get("duration_s") or where
        raise node.fail(f"must be at least {NETWORK_MIN_DURATION_S:g} s for mode {mode}")
    jitter, latency = values.get("jitter_ms") or 0.0, values.get("latency_ms") or 0.0
    if mode == "latency" and jitter > latency:
        node = given.get("jitter_ms") or where
        raise node.fail(f"must not exceed latency_ms ({latency:g}), got {jitter:g}")
    route = ROUTES.get(str(values.get("route")))
    if route is not None and component is not None and component != route.client:
        raise (given.get("route") or where).fail(
            f"route {route.name} carries {route.client}'s connections to {route.server}: the "
            f"drill's target.component must be {route.client}, got {component}"
        )
