"""A ground-truth sampler's thread: started by `with`, stopped and joined when the block ends.

The integration tests watch the platform beside the harness (ports, /proc, psql, the broker, the
dashboard) from their own code; each watcher subclasses this and writes only its `_run`, which
samples until `self.stop` is set.
"""

from __future__ import annotations

import threading
from typing import Self


class Sampler:
    """Runs `_run` in a daemon thread for the duration of a `with` block."""

    JOIN_S = 10.0

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(self.JOIN_S)

    def _run(self) -> None:
        raise NotImplementedError
