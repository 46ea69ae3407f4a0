"""Training jobs' records in the shared store, `$AEVIZ_HOME/jobs/`: what every replica of a cluster reads.

With the Ray back-end (aeviz.jobs.cluster) a job outlives the replica that started it, so its owner, its spec,
its state and, once it has ended, everything its page draws live here, one file per job, written atomically
under one lock: any replica answers for any job, and a restarted one forgets nothing. The files are pickles the
server and its Ray workers write for each other, in a folder only they write to (like Ray's own messages).
"""

from __future__ import annotations

import contextlib
import pickle
import re
import time
from pathlib import Path
from typing import Any

from ..atomic import atomic_write, shared_lock
from ..places import user_dir

SUFFIX = ".job"
KEEP_FINISHED = 200  # ended jobs' records kept (their pages show the result); older ones are deleted
_ID = re.compile(r"[0-9a-f]{12}")  # base.new_id(); anything else (a hand-edited link) names no job


class JobStore:
    """The records of one AEVIZ_HOME: plain dicts keyed like TrainingJob's fields, plus `created` (wall time)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else user_dir().parent / "jobs"

    def _path(self, job_id: str) -> Path | None:
        return self.root / f"{job_id}{SUFFIX}" if _ID.fullmatch(job_id or "") else None

    def read(self, job_id: str | None) -> dict[str, Any] | None:
        path = self._path(job_id or "")
        if path is None:
            return None
        try:
            record = pickle.loads(path.read_bytes())
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, ValueError):
            return None  # missing, or half a file from a crashed writer of an older version: no such job
        return record if isinstance(record, dict) and record.get("id") == job_id else None

    def create(self, record: dict[str, Any]) -> None:
        with self.locked():
            self.write({**record, "created": time.time()})

    def update(self, job_id: str, *, unless_ended: bool = False, **fields: Any) -> dict[str, Any] | None:
        """Change a record's fields (read, change, write under the lock); with `unless_ended`, a record whose
        job has already ended is left as it is. The record as it is afterwards (None: no such job)."""
        with self.locked():
            record = self.read(job_id)
            if record is None:
                return None
            if unless_ended and not record["state"].active:
                return record
            record.update(fields)
            self.write(record)
            return record

    def records(self) -> list[dict[str, Any]]:
        """Every job's record, oldest first."""
        found = (self.read(p.name.removesuffix(SUFFIX)) for p in self._files())
        return sorted((r for r in found if r is not None), key=lambda r: r["created"])

    def prune(self, keep: int = KEEP_FINISHED) -> None:
        """Delete the records of all but the `keep` latest ended jobs."""
        ended = [r for r in self.records() if not r["state"].active]
        for record in ended[: max(0, len(ended) - keep)]:
            path = self._path(record["id"])
            if path is not None:
                path.unlink(missing_ok=True)

    def _files(self) -> list[Path]:
        with contextlib.suppress(OSError):
            return [p for p in self.root.iterdir() if p.name.endswith(SUFFIX)]
        return []

    def write(self, record: dict[str, Any]) -> None:
        path = self._path(record["id"])
        assert path is not None, record["id"]
        atomic_write(path, pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL))

    def locked(self):
        return shared_lock(self.root / ".lock")
