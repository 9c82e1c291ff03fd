"""``python -m omcm``: the omcm command."""

from omcm.cli.main import main

raise SystemExit(main())
