"""Post-mortems: a typed context from a run directory, a chart, action items, rendering, review.

This package sits above the runner in the flow (DESIGN.md §3): it reads what a run left on disk
(`result.json`, `series.json`, `journal.jsonl`, `drill.yaml`) and never imports runner internals,
so a post-mortem can be re-rendered from any run directory, including one from an older version.
"""
