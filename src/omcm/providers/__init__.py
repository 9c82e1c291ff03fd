"""The provider CLIs OMCM hands work to: one module each, registered here.

Each module in :data:`REGISTERED` has a ``PROVIDER`` (:class:`omcm.providers.base.Provider`)
that declares everything about its CLI: its ``config.toml`` table and defaults,
install and login hints, HUD label, health check, argv, output parsing and warm
mode. Config, routing, the doctor, the HUD and the logs read them from
:data:`PROVIDERS`; adding a provider is its module, its line here, its tests.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from omcm.providers.base import Provider

    PROVIDERS: dict[str, Provider]

#: Provider modules, in the order tables and reports list them.
REGISTERED = ("codex", "gemini", "opencode", "ollama")


def __getattr__(name: str) -> object:
    """``PROVIDERS``, every module imported on first use: config names the providers on
    every hook, and most hooks never use one."""
    if name == "PROVIDERS":
        found = {
            module: __import__(f"omcm.providers.{module}", fromlist=["PROVIDER"]).PROVIDER
            for module in REGISTERED
        }
        globals()["PROVIDERS"] = found
        return found
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["PROVIDERS", "REGISTERED"]
