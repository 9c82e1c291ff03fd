"""Where a job's worker keeps what it could not write to the state dir (read-only, full).

A worker whose answer is in hand but whose job folder cannot be written keeps the
answer and the ending it meant to record here — a folder of this user's in the
system's temporary directory, one per state dir — and goes on trying the state
dir until the job's time is up. Whoever reads the job later (``omcm jobs``,
``omcm result``, the delivery hooks) and finds its worker gone takes the answer
from here into the job (:func:`omcm.jobs.store.load`), so it is not lost, and the
job's reason says what happened.
"""

from __future__ import annotations

import hashlib
import os
import tempfile

from omcm.core import fastjson, paths


def folder() -> str:
    """This user's rescue folder for this state dir."""
    digest = hashlib.sha256(os.path.realpath(paths.state_dir()).encode()).hexdigest()[:12]
    return os.path.join(tempfile.gettempdir(), f"omcm-rescue-{os.getuid()}-{digest}")


def _file(job_id: str) -> str:
    return os.path.join(folder(), paths.safe_name(job_id, "job id") + ".json")


def keep(job_id: str, ending: dict[str, object], answer: str, why: str) -> str:
    """Keep a job's ending (its state, reason, outcome fields) and answer; where it went, or
    "" when even this could not be written."""
    path = _file(job_id)
    data = {"job": job_id, "ending": ending, "answer": answer, "why": why}
    try:
        os.makedirs(folder(), mode=0o700, exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(fastjson.dumps(data))
        os.replace(tmp, path)
    except OSError:
        return ""
    return path


def find(job_id: str) -> str:
    """A sentence saying where the job's answer was kept and why, "" when nothing was."""
    found = take(job_id)
    if found is None:
        return ""
    return f"its answer was kept in {_file(job_id)} ({found.get('why', '')})"


def take(job_id: str) -> dict[str, object] | None:
    """What the worker kept for the job, or None."""
    try:
        with open(_file(job_id), "rb") as handle:
            data = fastjson.loads(handle.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def forget(job_id: str) -> None:
    """The job now holds what was kept: remove it."""
    try:
        os.unlink(_file(job_id))
    except OSError:
        pass
