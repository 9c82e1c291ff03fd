"""Claude Code hook adapters and the runner that owns the hook protocol."""
