"""``python -m omcm``: the omcm command."""

from omcm.cli import main

raise SystemExit(main())
