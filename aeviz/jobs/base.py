"""What every background job shares: one set of states, and the id, kind and timing a page reads of any job."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from enum import Enum

from ..data import DatasetUnavailable
from ..errors import one_line


class State(str, Enum):
    """Where a job is. A str, so a state compares equal to (and pickles, prints and logs as) its old string."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def active(self) -> bool:
        """Still to run or running: a page keeps polling it."""
        return self in ACTIVE

    @property
    def ended(self) -> bool:
        """Done, failed or cancelled: nothing about it changes any more."""
        return not self.active


ACTIVE = frozenset({State.QUEUED, State.RUNNING})
FINISHED = frozenset({State.DONE, State.FAILED, State.CANCELLED})


def new_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(eq=False, kw_only=True)
class Job:
    """The fields every job has; times are time.monotonic() seconds, None until they happen."""

    id: str = field(default_factory=new_id)
    kind: str = ""
    state: State = State.QUEUED
    started: float | None = None
    finished: float | None = None

    @property
    def active(self) -> bool:
        return self.state.active

    @property
    def ended(self) -> bool:
        return self.state.ended

    def elapsed(self) -> float:
        """Seconds since the job started running (0 while queued), up to its end once it has ended."""
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started


def describe(exc: BaseException) -> str:
    """A message a user can act on: our own errors verbatim, anything else with its type."""
    if isinstance(exc, (DatasetUnavailable, ValueError, KeyError, FileNotFoundError)) and exc.args:
        return str(exc.args[0])
    return one_line(exc, limit=500)
