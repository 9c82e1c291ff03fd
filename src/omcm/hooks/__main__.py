"""``python -m omcm.hooks EVENT``: what the plugin's launcher runs for each hook."""

import sys

from omcm.hooks.runner import main

raise SystemExit(main(sys.argv[1:]))
