"""What a call cost, from its provider, model and token counts.

Prices come from `genai-prices <https://github.com/pydantic/genai-prices>`_ (the
pydantic team's price data, bundled with the package: no network) or, where it
lacks a model, from ``[prices."PROVIDER/MODEL"]`` in config.toml with the source
of the figure. A model neither knows costs "no price": never a guessed number.
A provider that runs on this machine (Ollama) costs 0.

Each (provider, model, month) is looked up once and priced per token at the
model's base rates: input, cached input and output. A call's tokens are summed
over its model requests, so long-context tiers, which apply per request, are not
applied. Imported by ``omcm stats`` and ``omcm savings`` only, never by a hook.
"""

from __future__ import annotations

import time

from omcm.core.records import Record, RecordError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from omcm.config import Config

#: opencode's provider ids (models.dev) that genai-prices calls something else.
OPENCODE_IDS = {"xai": "x-ai", "google-vertex": "google", "amazon-bedrock": "aws"}
_MILLION = 1_000_000


class Rates(Record):
    """USD per token, and where the figures come from."""

    input: float
    cached: float
    cache_write: float
    output: float
    source: str


class Priced(Record):
    """A cost, or why there is none."""

    usd: float | None
    source: str  # "genai-prices 0.2.3: openai gpt-5.2" | "config: <source>" | "local" | why not


#: genai-prices' rates as looked up before (``prices-cache.json`` in the state dir): the
#: package is slow to import and its data is fixed per version, so a report that finds
#: every rate here does not import it (the cache names the version it was built with).
CACHE = "prices-cache.json"


class Prices:
    """Looks rates up once per provider, model and month."""

    def __init__(self, config: Config) -> None:
        self.overrides = config.prices
        self._rates: dict[tuple[str, str, str], Rates | str] = {}
        self._days: dict[tuple[str, str, int], Rates | str] = {}
        self._local: dict[str, bool] = {}
        self._saved: dict[str, Any] | None = None
        self._dirty = False

    def save(self) -> None:
        """Keep the rates genai-prices gave for the next report (best effort)."""
        if not self._dirty or self._saved is None:
            return
        from omcm.core import fastjson, paths, state

        try:
            data = {"genai_prices": _package_version(), "rates": self._saved}
            state.atomic_write(paths.state_file(CACHE), fastjson.dumps(data))
            self._dirty = False
        except OSError:
            pass  # only speed is lost

    def rates(self, provider: str, model: str, at: float) -> Rates | str:
        """The rates, or why there are none."""
        day = (provider, model, int(at // 86400))
        found = self._days.get(day)
        if found is None:
            month = time.strftime("%Y-%m", time.gmtime(at))
            key = (provider, model, month)
            found = self._rates.get(key)
            if found is None:
                found = self._rates[key] = self._look_up(provider, model, at, month)
            self._days[day] = found
        return found

    def local(self, provider: str) -> bool:
        """Whether the provider runs on this machine (and costs nothing)."""
        found = self._local.get(provider)
        if found is None:
            from omcm.providers import PROVIDERS

            known = PROVIDERS.get(provider)
            found = self._local[provider] = known is not None and known.local
        return found

    def vendor(self, provider: str) -> str:
        """genai-prices' vendor of the provider's models ("" when the model names it)."""
        if provider == "claude":
            return "anthropic"
        from omcm.providers import PROVIDERS

        known = PROVIDERS.get(provider)
        return known.prices if known else ""

    def _look_up(self, provider: str, model: str, at: float, month: str) -> Rates | str:
        override = self.overrides.get(f"{provider}/{model}")
        if override is not None:
            cached = override.cached_input if override.cached_input is not None else override.input
            return Rates(
                input=override.input / _MILLION,
                cached=cached / _MILLION,
                cache_write=override.input / _MILLION,
                output=override.output / _MILLION,
                source=f"config: {override.source}",
            )
        if not model:
            return "no price: the model is not known"
        vendor, ref = self.vendor(provider), model
        if not vendor and "/" in model:
            vendor, ref = model.split("/", 1)
            vendor = OPENCODE_IDS.get(vendor, vendor)
        if not vendor:
            return f"no price: genai-prices has no provider for {provider}"
        if self._saved is None:
            self._saved = _load_saved()
        key = f"{vendor}/{ref}@{month}"
        known = self._saved.get(key)
        if isinstance(known, str):
            return known
        if isinstance(known, dict):
            try:
                return Rates.parse(known, f"{CACHE} {key}")
            except RecordError:
                pass  # damaged: looked up again below
        found = _genai_rates(vendor, ref, at)
        self._saved[key] = found if isinstance(found, str) else found.dump()
        self._dirty = True
        return found

    def cost(
        self,
        provider: str,
        model: str,
        at: float,
        *,
        input: int,
        cached: int = 0,
        cache_write: int = 0,
        output: int,
    ) -> Priced:
        """``input`` includes ``cached`` and ``cache_write`` (the providers' convention)."""
        usd, source = self.usd(provider, model, at, (input, cached, cache_write, output))
        return Priced(usd=usd, source=source)

    def usd(
        self, provider: str, model: str, at: float, tokens: tuple[int, int, int, int]
    ) -> tuple[float | None, str]:
        """:meth:`cost` of ``tokens`` (input, cached, cache write, output) as a plain (USD or
        None, source) pair, for reports that price thousands of sums."""
        input, cached, cache_write, output = tokens
        if self.local(provider):
            return 0.0, "local"
        rates = self.rates(provider, model, at)
        if isinstance(rates, str):
            return None, rates
        plain = max(0, input - cached - cache_write)
        usd = (
            plain * rates.input
            + cached * rates.cached
            + cache_write * rates.cache_write
            + output * rates.output
        )
        return usd, rates.source


def _package_version() -> str:
    from importlib.metadata import version

    return version("genai-prices")


def _load_saved() -> dict[str, Any]:
    """The saved rates, if genai-prices is still the version that gave them."""
    from omcm.core import fastjson, paths

    try:
        with open(paths.state_file(CACHE), "rb") as handle:
            data = fastjson.loads(handle.read())
        if isinstance(data, dict) and data.get("genai_prices") == _package_version():
            rates = data.get("rates")
            return rates if isinstance(rates, dict) else {}
    except (OSError, ValueError):
        pass
    return {}


def _genai_rates(vendor: str, model: str, at: float) -> Rates | str:
    import datetime

    from genai_prices import Usage, calc_price

    when = datetime.datetime.fromtimestamp(at, tz=datetime.UTC)

    def usd(**tokens: int) -> tuple[float, str]:
        found = calc_price(
            Usage(**tokens), model_ref=model, provider_id=vendor, genai_request_timestamp=when
        )
        return float(found.total_price), str(found.model.id)

    try:
        plain, name = usd(input_tokens=_MILLION)
        cached, _ = usd(input_tokens=_MILLION, cache_read_tokens=_MILLION)
        write, _ = usd(input_tokens=_MILLION, cache_write_tokens=_MILLION)
        output, _ = usd(output_tokens=_MILLION)
    except LookupError:
        return f"no price: genai-prices does not know {vendor} {model}"
    return Rates(
        input=plain / _MILLION,
        cached=cached / _MILLION,
        cache_write=write / _MILLION,
        output=output / _MILLION,
        source=f"genai-prices {_package_version()}: {vendor} {name}",
    )
