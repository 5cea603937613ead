"""The sandbox's fault proxy: a small asyncio TCP relay the harness can tell to misbehave.

Kernel traffic shaping (`tc qdisc … netem`) is absent on these machines and Toxiproxy is in
neither Debian's archive nor PyPI (only its clients are), so the sandbox routes the analysis
service's connections to RabbitMQ and PostgreSQL, and the dashboard's to PostgreSQL, through this
relay (`python -m drills.netfault`, a supervised program). One listener per route; a loopback
HTTP/JSON control channel (bearer token) sets and clears one fault per route.

The package imports nothing from the rest of the harness but its errors (`drills.errors`): it is
a separate process, and the harness reaches it only through `drills.targets.local_netfault`.

    routes.py    which connections are proxied (the table the sandbox and the drill files share)
    faults.py    a fault as the control channel carries it, validated; latency and bandwidth maths
    relay.py     one proxied connection: two sockets, two directions, what a fault does to bytes
    route.py     one listener, its connections, its fault and the deadline that ends it
    control.py   the HTTP/JSON control channel
    __main__.py  the program: routes from the command line, the token from a file, until SIGTERM
"""
