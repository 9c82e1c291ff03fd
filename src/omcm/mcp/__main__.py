"""``python -m omcm.mcp``: the MCP server on stdio (what ``.mcp.json`` starts)."""

from omcm.mcp import start

start()
