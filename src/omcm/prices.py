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

from omcm.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from omcm.config import Config

#: OMCM's provider → genai-prices' provider id (opencode names the provider in the model).
PROVIDER_IDS = {"codex": "openai", "gemini": "google", "claude": "anthropic"}
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


class Prices:
    """Looks rates up once per provider, model and month."""

    def __init__(self, config: Config) -> None:
        self.overrides = config.prices
        self._rates: dict[tuple[str, str, str], Rates | str] = {}

    def rates(self, provider: str, model: str, at: float) -> Rates | str:
        """The rates, or why there are none."""
        month = time.strftime("%Y-%m", time.gmtime(at))
        key = (provider, model, month)
        found = self._rates.get(key)
        if found is None:
            found = self._rates[key] = self._look_up(provider, model, at)
        return found

    def _look_up(self, provider: str, model: str, at: float) -> Rates | str:
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
        vendor, ref = PROVIDER_IDS.get(provider, ""), model
        if provider in ("opencode", "ollama") and "/" in model:
            vendor, ref = model.split("/", 1)
            vendor = OPENCODE_IDS.get(vendor, vendor)
        if not vendor:
            return f"no price: genai-prices has no provider for {provider}"
        return _genai_rates(vendor, ref, at)

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
        from omcm.providers import PROVIDERS

        known = PROVIDERS.get(provider)
        if known is not None and known.local:
            return Priced(usd=0.0, source="local")
        rates = self.rates(provider, model, at)
        if isinstance(rates, str):
            return Priced(usd=None, source=rates)
        plain = max(0, input - cached - cache_write)
        usd = (
            plain * rates.input
            + cached * rates.cached
            + cache_write * rates.cache_write
            + output * rates.output
        )
        return Priced(usd=usd, source=rates.source)


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
    from importlib.metadata import version

    return Rates(
        input=plain / _MILLION,
        cached=cached / _MILLION,
        cache_write=write / _MILLION,
        output=output / _MILLION,
        source=f"genai-prices {version('genai-prices')}: {vendor} {name}",
    )
