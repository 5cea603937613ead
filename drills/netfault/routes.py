"""The proxied routes: which client's connections to which server go through the fault proxy.

Data, shared by the sandbox (which gives each route a listening port and points the client's URL
at it), the drill files (`fault: {kind: network, params: {route: …}}`) and the proxy itself.
"""

from __future__ import annotations

from dataclasses import dataclass

PROGRAM = "netfault-proxy"  # the supervised program and its control port's name


@dataclass(frozen=True)
class Route:
    """`client`'s connections to `server` (both component names)."""

    name: str
    client: str
    server: str

    @property
    def port_name(self) -> str:
        """The name of the route's listening port in the sandbox's port block."""
        return f"{PROGRAM}-{self.name}"


ROUTES: dict[str, Route] = {
    route.name: route
    for route in (
        Route("analysis-rabbitmq", "audit-log-analysis", "rabbitmq"),
        Route("analysis-postgres", "audit-log-analysis", "postgres"),
        Route("dashboard-postgres", "event-audit-dashboard", "postgres"),
    )
}
