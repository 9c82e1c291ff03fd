"""The stdio MCP server Claude Code starts from the plugin's ``.mcp.json``.

One long-lived process per Claude Code session (the hook launcher's Python:
``hooks/omcm-hook mcp-server``), built on the MCP Python SDK's low-level server:
``tools/list`` gives the tools ``[mcp] tools`` names (none while ``mcp.enabled``
is false); ``tools/call`` checks the arguments (:mod:`omcm.mcp.tools`), finds the
session that made the call (:func:`omcm.mcp.asking.origin`) and runs the tool's
work (:mod:`omcm.mcp.asking`, blocking) in a thread.

While a call runs, a progress notification goes out every :data:`PROGRESS_EVERY`
seconds (when the client asked for progress): the provider and model at work,
the time so far, what its CLI says it is doing. When the client cancels the
request (Esc in Claude Code sends ``notifications/cancelled``), the call's stop
flag is set; the run polls it and kills the provider's process group at once,
and the job is recorded as cancelled. Any failure becomes a tool result that
says what went wrong (``isError``); a traceback goes to OMCM's error log only.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import anyio
import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server

from omcm import __version__
from omcm import config as cfg
from omcm.core import server_start
from omcm.core.errors import OmcmError
from omcm.mcp import asking, tools

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from omcm.calls.call import Step

#: Seconds between progress notifications while a call runs (the first after as long).
PROGRESS_EVERY = 3.0
#: The ``_meta`` key under which Claude Code names the tool call (its ``tool_use_id``).
TOOL_USE_META = "claudecode/toolUseId"
INSTRUCTIONS = (
    "OMCM hands work to other coding-agent CLIs (Codex, Gemini, OpenCode, Ollama), "
    "saving Claude tokens: `ask` one of them a task, `consensus` to compare several."
)


class Follow:
    """One running call as its progress notifications tell it."""

    def __init__(self, tool: str) -> None:
        self.began = time.monotonic()
        self.doing = f"{tool}: starting"
        self.where = ""  # provider/model of the run under way
        self.stopped = threading.Event()
        self.why = ""

    def step(self, step: Step) -> None:
        """What the run does now (called from the worker thread)."""
        if step.kind == "sent":
            self.where = f"{step.provider}/{step.model or 'its default model'}"
            self.doing = f"{self.where}: starting"
        elif step.kind == "started":
            self.doing = f"{self.where}: working"
        elif step.kind == "output" and step.text:
            self.doing = f"{step.provider}: {step.text}"[:120]
        elif step.kind == "ended":
            self.doing = f"{step.provider}: {step.outcome.replace('_', ' ')}"

    def stop(self) -> str:
        return self.why if self.stopped.is_set() else ""

    def cancel(self, why: str) -> None:
        self.why = why
        self.stopped.set()

    def message(self) -> tuple[float, str]:
        spent = time.monotonic() - self.began
        return spent, f"{self.doing} · {spent:.0f}s"


async def list_tools(
    _ctx: ServerRequestContext[Any], _params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    try:
        conf = cfg.load()
    except cfg.ConfigError:
        conf = cfg.Config()  # the tools are offered; a call then says what is wrong
    names = list(conf.mcp.tools) if conf.mcp.enabled else []
    return types.ListToolsResult.model_validate({"tools": tools.listing(names)})


async def call_tool(
    ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
) -> types.CallToolResult:
    meta: dict[str, Any] = dict(params.meta or {})
    tool_use_id = str(meta.get(TOOL_USE_META) or "")
    follow = Follow(params.name)
    reply = await _serve(ctx, params.name, params.arguments, tool_use_id, follow)
    return types.CallToolResult(content=[types.TextContent(text=reply.text)], is_error=reply.error)


async def _serve(
    ctx: ServerRequestContext[Any],
    name: str,
    arguments: dict[str, Any] | None,
    tool_use_id: str,
    follow: Follow,
) -> asking.Reply:
    """Run the tool's work in a thread, with progress, stopping it if the client cancels."""
    cancelled = anyio.get_cancelled_exc_class()

    async def watch() -> None:
        try:
            await anyio.sleep_forever()
        except cancelled:
            follow.cancel("the MCP client cancelled the call (Esc in Claude Code)")
            raise

    async def tell() -> None:
        while True:
            await anyio.sleep(PROGRESS_EVERY)
            spent, message = follow.message()
            try:
                await ctx.session.report_progress(round(spent, 1), None, message)
            except Exception:  # a progress note that cannot go out must not end the call
                return

    async with anyio.create_task_group() as group:
        group.start_soon(watch)
        group.start_soon(tell)
        reply = await anyio.to_thread.run_sync(
            lambda: work(name, arguments, tool_use_id, follow), abandon_on_cancel=False
        )
        group.cancel_scope.cancel()
    return reply


def work(
    name: str, arguments: dict[str, Any] | None, tool_use_id: str, follow: Follow
) -> asking.Reply:
    """One tool call, start to end; never raises (a failure is an error result)."""
    background = bool((arguments or {}).get("background")) and name == "ask"
    where = asking.Origin(tool_use_id=tool_use_id)
    started = False
    try:
        where = asking.origin(tool_use_id, os.environ, os.getcwd())
        conf = cfg.load()
        off = not conf.mcp.enabled or name not in conf.mcp.tools
        if off and name in tools.DECLARED:
            why = "mcp.enabled is false" if not conf.mcp.enabled else "it is not in mcp.tools"
            return asking.Reply(text=f"{name}: this tool is turned off ({why})", error=True)
        args = tools.parse(name, arguments)
        reply = _run(name, args, where, conf, follow)
        started = background and not reply.error
        return reply
    except tools.BadArguments as exc:
        return asking.Reply(text=str(exc), error=True)
    except (OmcmError, OSError) as exc:
        return asking.Reply(text=f"{name} failed: {exc}", error=True)
    except Exception as exc:
        import traceback

        from omcm.core.state import log_error

        log = log_error(f"MCP tool {name} crashed", traceback.format_exc())
        return asking.Reply(
            text=f"{name} failed ({type(exc).__name__}: {exc}); see {log}", error=True
        )
    finally:
        if background and not started:
            asking.no_job(where)


def _run(
    name: str, args: Any, where: asking.Origin, conf: cfg.Config, follow: Follow
) -> asking.Reply:
    if name == "ask":
        return asking.ask(args, where, conf, stop=follow.stop, step=follow.step)
    if name == "consensus":
        return asking.consensus(args, where, conf, stop=follow.stop, step=follow.step)
    if name == "jobs":
        return asking.jobs(args)
    if name == "result":
        return asking.result(args, conf, stop=follow.stop)
    return asking.cancel(args)


def build() -> Server[Any]:
    return Server(
        "omcm",
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


async def serve() -> None:
    server = build()
    async with stdio_server() as (read, write):
        server_start.done()  # SessionStart may be waiting for this (see omcm.core.server_start)
        await server.run(read, write, server.create_initialization_options())


def main() -> None:
    """``python -m omcm.mcp``: serve on stdin/stdout until the client closes them."""
    try:
        anyio.run(serve)
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # the client shows the server as failed; the log says why
        import traceback

        from omcm.core.state import log_error

        server_start.done()

        log = log_error("the MCP server stopped", traceback.format_exc())
        print(
            f"omcm MCP server stopped: {type(exc).__name__}: {exc} (details: {log})",
            file=sys.stderr,
        )
        raise SystemExit(1) from None
