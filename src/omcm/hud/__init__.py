"""The status line (``omcm hud``): Claude's usage and OMCM at a glance, and the sensor that
records Claude's usage for routing; and its place in Claude Code's settings."""
