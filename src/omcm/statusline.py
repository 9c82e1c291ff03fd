"""The status line's old address, kept for Claude Code settings written before OMCM 0.2.

Those run ``python -c "from omcm.statusline import main; main()"``; ``omcm hud
setup`` writes the current one (:func:`omcm.cli.hud.hud_command`, which calls
:func:`omcm.hud.statusline.run`).
"""

from omcm.hud.statusline import main

__all__ = ["main"]
