"""The ``omcm`` command: one module per command group (:mod:`~omcm.cli.main` builds the parser)."""
