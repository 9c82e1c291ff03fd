"""OMCM's configuration: ``config.toml`` in the config dir.

- :mod:`~omcm.config.schema`: the schema, declared once as records;
- :mod:`~omcm.config.snapshot`: :func:`load`, the validated config (hooks read a snapshot);
- :mod:`~omcm.config.validate`: validation with pydantic, errors that name file and key;
- :mod:`~omcm.config.edit`: ``omcm config get``, ``set`` and ``init``, keeping the user's file.
"""

from omcm.config.schema import TIERS, Config
from omcm.config.snapshot import load
from omcm.core.errors import ConfigError

__all__ = ["TIERS", "Config", "ConfigError", "load"]
