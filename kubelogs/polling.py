"""How the stages wait for the cluster: one loop, one interval (``kubernetes.poll_interval``), one deadline.

Every wait (a rollout, a restarted pod, an in-cluster pod that runs once, a canary) is a ``Poll.until`` of a
check that returns None while it must wait. Tests pass a clock and a sleep that do not wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Poll:
    interval: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def until(self, check: Callable[[], T | None], timeout: float, timed_out: Callable[[], Exception]) -> T:
        """``check()``'s first value that is not None, looking every ``interval`` seconds; after ``timeout``
        seconds (one last look included), raise ``timed_out()``."""
        deadline = self.clock() + timeout
        while True:
            result = check()
            if result is not None:
                return result
            if self.clock() >= deadline:
                raise timed_out()
            self.sleep(min(self.interval, max(0.0, deadline - self.clock())))
