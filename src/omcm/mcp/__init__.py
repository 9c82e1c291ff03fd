"""The MCP server Claude Code starts from the plugin's ``.mcp.json``: providers asked on purpose.

- :mod:`~omcm.mcp.tools`: the tools as Claude sees them, and their arguments checked;
- :mod:`~omcm.mcp.asking`: what each tool does, through the routed-call pipeline (door ``mcp``);
- :mod:`~omcm.mcp.files`: the files an ``ask`` names, read into its prompt;
- :mod:`~omcm.mcp.compare`: a ``consensus``'s comparison, made without a model;
- :mod:`~omcm.mcp.server`: the stdio server (the MCP Python SDK): progress, cancellation.

Only the server imports the SDK (the ``mcp`` extra), and no hook imports this package.
"""

from __future__ import annotations


def start() -> None:
    """Serve on stdio (what ``.mcp.json`` starts, through the hook launcher); where omcm
    was installed without its ``mcp`` extra, say so and what installs it, and exit 1."""
    import importlib.util

    if importlib.util.find_spec("mcp") is None:
        import os
        import sys

        from omcm.core import paths, server_start

        server_start.done()  # SessionStart does not wait for a server that never serves
        fix = paths.install_extra(sys.executable, "mcp", os.environ.get("CLAUDE_PLUGIN_ROOT"))
        print(
            f"omcm MCP server: the MCP SDK is not installed in {sys.executable} (omcm was "
            f"installed without its mcp extra). Run: {fix}",
            file=sys.stderr,
        )
        raise SystemExit(1)
    from omcm.mcp.server import main

    main()
