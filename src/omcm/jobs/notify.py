"""Telling someone a job ended: a desktop notification and a web hook.

The one owner of job-end notifications: :func:`ended` is called once by whoever
finishes a job in its worker (:mod:`omcm.jobs.worker`, :mod:`omcm.batch.runner`).

- **Desktop** (``jobs.notify``): ``notify-send`` or ``osascript``, for a job started in
  the background from a terminal.
- **Web hook** (``[jobs.webhook]``): one POST per job that asked for it when it was
  made (all jobs, or only those started outside Claude), with the job's id, state,
  provider, elapsed time and the first lines of its answer, masked like the handoff.
  It is sent by a small detached process (:func:`main`), so it never holds up or
  fails the job: a bounded retry, then a line in the job's event log. The URL may
  come from an environment variable (``url_env``), which that process inherits.
"""

from __future__ import annotations

import os
import sys
import time

from omcm.core import proc
from omcm.jobs import store

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from omcm.calls.call import Source
    from omcm.config import Config
    from omcm.config.schema import WebhookConfig

ENTRY = "from omcm.jobs.notify import main; main()"
#: Lines of the answer a message carries.
ANSWER_LINES = 8
ANSWER_CHARS = 1200


def wants_webhook(conf: Config, source: Source) -> bool:
    """Whether a job made now, from ``source``, posts when it ends (``[jobs.webhook]``).

    A task of a batch does not (its batch posts once); a job of a Claude session
    (it has a session id) only with ``jobs = "all"``.
    """
    hook = conf.jobs.webhook
    if not url_of(hook) or source.batch_id:
        return False
    return hook.jobs == "all" or not source.session_id


def url_of(hook: WebhookConfig, env: dict[str, str] | None = None) -> str:
    """The URL: the ``url_env`` variable when it is set, else ``url``."""
    found = (env if env is not None else os.environ).get(hook.url_env, "") if hook.url_env else ""
    return found.strip() or hook.url.strip()


def ended(record: store.JobRecord) -> None:
    """A job's worker finished it: notify as the job asked (never raises)."""
    if record.notify:
        try:
            desktop(record)
        except Exception as exc:  # a notification must never fail the job it reports
            store.note(record.id, "notify-failed", error=str(exc)[:300])
    if record.webhook:
        log = os.path.join(store.job_dir(record.id), "webhook.log")
        try:
            proc.spawn_detached([sys.executable, "-c", ENTRY, record.id], log, dict(os.environ))
        except OSError as exc:
            store.note(record.id, "webhook-failed", error=f"the sender did not start ({exc})")


def desktop(record: store.JobRecord) -> None:
    """Tell a user in a terminal without Claude that a job ended (notify-send, osascript)."""
    import shutil

    title = f"OMCM job {record.state}"
    body = f"{record.title[:80]} ({record.provider or 'no provider'}) · omcm result {record.id}"
    if shutil.which("notify-send"):
        proc.run(["notify-send", title, body], timeout=10)
    elif shutil.which("osascript"):
        quoted = body.replace("\\", "\\\\").replace('"', '\\"')
        proc.run(
            ["osascript", "-e", f'display notification "{quoted}" with title "{title}"'], timeout=10
        )


# -- the web hook -----------------------------------------------------------------------


def main() -> None:
    """The detached sender: ``python -c "…main()" JOB_ID``."""
    if len(sys.argv) != 2:
        raise SystemExit("usage: webhook sender JOB_ID")
    send(sys.argv[1])


def send(job_id: str, *, pause: float = 1.0) -> bool:
    """POST the job's message once (claimed in its record, so never twice); retry a failed
    POST ``retries`` times; every outcome is a line in the job's event log."""
    from omcm import config
    from omcm.core.errors import OmcmError

    try:
        conf = config.load()
    except config.ConfigError as exc:
        store.note(job_id, "webhook-failed", error=f"config.toml is invalid: {exc}")
        return False
    hook = conf.jobs.webhook
    url = url_of(hook)
    if not url:
        store.note(job_id, "webhook-failed", error="no URL (jobs.webhook.url / url_env)")
        return False
    try:
        record = _claim(job_id)
    except (OmcmError, OSError) as exc:
        store.note(job_id, "webhook-failed", error=f"the job cannot be read ({exc})")
        return False
    if record is None:
        return False  # sent already
    body = message(record, hook.format)
    errors = []
    for attempt in range(1 + hook.retries):
        if attempt:
            time.sleep(pause * 2 ** (attempt - 1))
        status, error = _post(url, body, hook.timeout)
        if error == "":
            store.note(job_id, "webhook", status=status, attempts=attempt + 1)
            return True
        errors.append(error)
        if status and 400 <= status < 500 and status not in (408, 429):
            break  # the receiver refuses this message: sending it again changes nothing
    store.note(job_id, "webhook-failed", error="; ".join(errors)[:500], attempts=len(errors))
    from omcm.core.state import log_error

    log_error(f"job {job_id}: its web hook was not delivered ({errors[-1]})")
    return False


def _claim(job_id: str) -> store.JobRecord | None:
    """Take the job's one web hook message: None if it was taken already."""

    def change(record: store.JobRecord) -> store.JobRecord | None:
        if record.webhook_sent_at is not None:
            return None
        record.webhook_sent_at = time.time()
        return record

    taken: store.JobRecord | None = store.update(job_id, change)
    return taken


def _post(url: str, body: dict[str, Any], timeout: float) -> tuple[int, str]:
    """(HTTP status, "" when it was taken, else why not)."""
    import json
    import urllib.error
    import urllib.request

    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", "User-Agent": "omcm"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return 0, f"{type(exc).__name__}: {reason}"


def message(record: store.JobRecord, form: str) -> dict[str, Any]:
    """The message for a finished job: ``json`` (its fields) or ``slack`` (text)."""
    from omcm.core.humanize import duration
    from omcm.core.masking import mask

    elapsed = record.elapsed(record.ended_at or time.time())
    head = ""
    if record.state == "done":
        try:
            with open(store.output_file(record.id), encoding="utf-8", errors="replace") as handle:
                head = handle.read(64 * 1024)
        except OSError:
            head = ""
    lines = mask(head).strip().splitlines()[:ANSWER_LINES]
    answer = "\n".join(lines)[:ANSWER_CHARS]
    who = f"{record.provider}/{record.model}" if record.provider else "no provider"
    if form == "slack":
        text = (
            f"*OMCM job {record.id} {record.state}* · {record.title[:100]}\n"
            f"{who} · {duration(elapsed)}"
            + ("" if record.state == "done" else f" · {record.reason[:200]}")
        )
        if answer:
            text += "\n```\n" + answer + "\n```"
        return {"text": text}
    return {
        "event": "job.ended",
        "job": {
            "id": record.id,
            "state": record.state,
            "reason": record.reason,
            "title": record.title,
            "source": record.source,
            "provider": record.provider,
            "model": record.model,
            "elapsed_seconds": round(elapsed, 1),
            "tokens": record.tokens.dump(),
            "answer_head": answer,
        },
    }
