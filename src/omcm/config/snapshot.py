"""Reading ``config.toml``: the validated config, from a snapshot while the file is unchanged.

Hooks read the config on every event; validating the TOML file with pydantic
(:mod:`omcm.config.validate`) costs several times a hook's whole budget, so the
result is kept as ``config-cache.json`` in the state dir and reused while the file
keeps its modification time, size and inode (and OMCM its version). A missing
file means the defaults.
"""

from __future__ import annotations

import os

from omcm.config.schema import Config
from omcm.core import fastjson, paths
from omcm.core.records import RecordError


def _cache_path() -> str:
    return os.path.join(paths.state_dir(), "config-cache.json")


def _stamp(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return [st.st_mtime_ns, st.st_size, st.st_ino]


def load(path: str | None = None) -> Config:
    """The validated config; raises :class:`ConfigError` naming the file and key.

    Reuses the snapshot of the last validation while ``config.toml`` is unchanged
    (same mtime, size and inode, same OMCM version), so hooks stay fast.
    """
    from omcm import __version__

    path = path or paths.config_file()
    stamp = _stamp(path)
    if stamp is None:
        return Config()
    cache = _cache_path()
    try:
        with open(cache, "rb") as handle:
            snapshot = fastjson.loads(handle.read())
        if (
            snapshot.get("source") == path
            and snapshot.get("stamp") == stamp
            and snapshot.get("omcm") == __version__
        ):
            return Config.parse(snapshot["config"], cache)
    except (OSError, ValueError, KeyError, AttributeError, RecordError):
        pass  # no usable snapshot: validate the file itself below
    from omcm.config.validate import validate_file

    config = validate_file(path)
    _save_snapshot(cache, path, stamp, config, __version__)
    return config


def _save_snapshot(cache: str, source: str, stamp: list[int], config: Config, version: str) -> None:
    from omcm.core.state import atomic_write

    data = {"source": source, "stamp": stamp, "omcm": version, "config": config.dump()}
    try:
        atomic_write(cache, fastjson.dumps(data))
    except OSError:
        pass  # a read-only state dir only costs speed here; the config itself is valid
