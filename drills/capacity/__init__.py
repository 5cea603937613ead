"""`genesis-drill capacity`: step the load until the latency SLO breaks, and say what broke it.

`plan` (the steps and when one holds), `usage` (per-component CPU and memory, and each one's CPU
ceiling), `climb` (the measured steps, the rate always restored, the ledger), `analysis` (the
capacity, the bottleneck, projections and headroom, pure), `report` (capacity.json and
report.html in a run directory).
"""
