"""Job-end web hooks against a local HTTP server: one POST per finished job, never a
failed job because the receiver is down.

The provider is a stand-in ``codex`` (a shell script printing codex's JSONL); jobs run
through ``omcm run`` and ``omcm batch`` as real processes, the sender detached.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from omcm.calls.call import Source
from omcm.config import Config
from omcm.core import paths
from omcm.jobs import notify, store

CODEX = r"""#!/bin/sh
cat >/dev/null
cat <<'EOF'
{"type":"item.completed","item":{"type":"agent_message","text":"line one\nline two"}}
{"type":"turn.completed","usage":{"input_tokens":3,"output_tokens":2}}
EOF
"""


class Receiver:
    """A web hook receiver on 127.0.0.1 that keeps every POST and answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.posts: list[dict[str, Any]] = []
        self.status = status
        self.arrived = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with outer.arrived:
                    outer.posts.append(json.loads(body))
                    outer.arrived.notify_all()
                self.send_response(outer.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.posts) >= count, timeout), self.posts
            return list(self.posts)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def configure(tmp_path: Path, **webhook: Any) -> None:
    script = tmp_path / "codex"
    script.write_text(CODEX)
    script.chmod(0o755)
    table = "\n".join(f"{k} = {json.dumps(v)}" for k, v in webhook.items())
    Path(paths.config_dir()).mkdir(parents=True, exist_ok=True)
    Path(paths.config_file()).write_text(
        f'[providers.codex]\ncommand = "{script}"\n\n[jobs.webhook]\n{table}\n'
    )


def omcm(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "omcm", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def events(job_id: str) -> list[dict[str, Any]]:
    path = Path(store.job_dir(job_id)) / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def wait_until(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"waited {timeout}s for {what}"
        time.sleep(0.05)
    return found


def sent(job_id: str) -> dict[str, Any] | None:
    """The job's last web hook event, once its sender is done."""
    done = [e for e in events(job_id) if e["event"] in ("webhook", "webhook-failed")]
    return done[-1] if done else None


def test_each_finished_job_posts_once_with_its_id(receiver: Receiver, tmp_path: Path) -> None:
    configure(tmp_path, url_env="OMCM_TEST_WEBHOOK")
    env = {"OMCM_TEST_WEBHOOK": receiver.url}
    first = omcm("run", "--provider", "codex", "--quiet", "say hi", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "line one\nline two\n"
    second = omcm("run", "--background", "--provider", "codex", "again", cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    ids = sorted(r.id for r in store.all_jobs())
    for job_id in ids:
        assert wait_until(partial(sent, job_id), "the sender")["event"] == "webhook"
    posts = receiver.wait_for(2)
    assert sorted(p["job"]["id"] for p in posts) == ids  # exactly one each
    post = next(p for p in posts if p["job"]["id"] == ids[0])
    assert post["event"] == "job.ended"
    assert {k: post["job"][k] for k in ("state", "source", "provider")} == {
        "state": "done",
        "source": "cli",
        "provider": "codex",
    }
    assert post["job"]["answer_head"] == "line one\nline two"
    assert post["job"]["elapsed_seconds"] >= 0
    # Sending again (a second sender) posts nothing more.
    assert notify.send(ids[0]) is False
    assert len(receiver.posts) == 2


def test_a_receiver_that_is_down_leaves_the_job_done(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    configure(tmp_path, url=f"http://127.0.0.1:{port}/hook", retries=1)
    done = omcm("run", "--provider", "codex", "--quiet", "say hi", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [job] = list(store.all_jobs())
    assert job.state == "done"
    failed = wait_until(lambda: sent(job.id), "the sender to give up")
    assert failed["event"] == "webhook-failed" and failed["attempts"] == 2
    assert "Connection refused" in failed["error"]
    assert store.load(job.id).state == "done"


def test_a_refusing_receiver_is_not_retried(receiver: Receiver, tmp_path: Path) -> None:
    receiver.status = 404
    configure(tmp_path, url=receiver.url, retries=2, format="slack")
    assert omcm("run", "--provider", "codex", "--quiet", "hi", cwd=tmp_path).returncode == 0
    [job] = list(store.all_jobs())
    failed = wait_until(lambda: sent(job.id), "the sender")
    assert (failed["event"], failed["attempts"], failed["error"]) == (
        "webhook-failed",
        1,
        "HTTP 404 Not Found",
    )
    [post] = receiver.posts
    assert post["text"].startswith(f"*OMCM job {job.id} done* · hi\ncodex/")
    assert post["text"].endswith("\n```\nline one\nline two\n```")


def test_a_batch_posts_once_not_once_per_task(receiver: Receiver, tmp_path: Path) -> None:
    configure(tmp_path, url=receiver.url)
    plan = tmp_path / "plan.toml"
    plan.write_text(
        '[[tasks]]\nid = "a"\nprompt = "one"\nprovider = "codex"\n\n'
        '[[tasks]]\nid = "b"\nprompt = "two"\nprovider = "codex"\n'
    )
    done = omcm("batch", str(plan), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    batch = next(r for r in store.all_jobs() if r.kind == "batch")
    wait_until(lambda: sent(batch.id), "the batch's sender")
    [post] = receiver.wait_for(1)
    assert post["job"]["id"] == batch.id


def test_which_jobs_post() -> None:
    conf = Config.parse({"jobs": {"webhook": {"url": "http://127.0.0.1:9/x"}}}, "test")
    terminal, claude = Source(door="cli"), Source(door="hook", session_id="s1")
    assert notify.wants_webhook(conf, terminal)
    assert not notify.wants_webhook(conf, claude)
    assert not notify.wants_webhook(conf, Source(door="batch", batch_id="b1"))
    conf.jobs.webhook.jobs = "all"
    assert notify.wants_webhook(conf, claude)
    assert not notify.wants_webhook(Config(), terminal)  # no URL, no web hook


def test_the_answer_is_masked_and_cut(tmp_path: Path) -> None:
    record = store.JobRecord(id="20260101-000000-abcdef", state="done", title="t", provider="codex")
    Path(store.job_dir(record.id)).mkdir(parents=True)
    secret = "OPENAI_API_KEY=sk-abcdefghijklmnopqrstuvwx"
    store.write_output(record.id, "\n".join([secret, *(f"line {n}" for n in range(20))]))
    body = notify.message(record, "json")["job"]["answer_head"]
    assert body.splitlines()[0] == "OPENAI_API_KEY=***"
    assert len(body.splitlines()) == notify.ANSWER_LINES
