"""The MCP server Claude Code starts from the plugin's ``.mcp.json``: providers asked on purpose.

- :mod:`~omcm.mcp.tools`: the tools as Claude sees them, and their arguments checked;
- :mod:`~omcm.mcp.asking`: what each tool does, through the routed-call pipeline (door ``mcp``);
- :mod:`~omcm.mcp.files`: the files an ``ask`` names, read into its prompt;
- :mod:`~omcm.mcp.compare`: a ``consensus``'s comparison, made without a model;
- :mod:`~omcm.mcp.server`: the stdio server (the MCP Python SDK): progress, cancellation.

Only the server imports the SDK, and no hook imports this package.
"""
