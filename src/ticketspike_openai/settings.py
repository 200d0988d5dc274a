"""The ``plugins: {openai: {...}}`` config section, validated when the file loads."""

from __future__ import annotations

import datetime
from urllib.parse import urlsplit

import attrs

from ticketspike.configfile import Section

__all__ = ["DEFAULT_KEY_ENV", "OpenAISettings", "settings_from_section"]

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
_KEYS = frozenset(
    {
        "base_url",
        "model",
        "api_key_env",
        "auth",
        "api_version",
        "timeout_seconds",
        "max_tickets",
        "max_chars",
        "max_answer_bytes",
        "response_format",
        "temperature",
        "classify",
        "themes",
    }
)


@attrs.frozen
class OpenAISettings:
    """How to reach the model and how much to send it.

    :param base_url: the API root the ``/chat/completions`` path is appended to:
        ``https://api.openai.com/v1``, ``http://127.0.0.1:11434/v1`` (Ollama),
        ``http://127.0.0.1:8000/v1`` (vLLM, llama.cpp server), or an Azure
        deployment ``https://NAME.openai.azure.com/openai/deployments/DEPLOYMENT``.
    :param model: the model name sent with each request.
    :param api_key_env: the environment variable holding the API key; a local
        server without one needs none.
    :param auth: ``bearer`` (``Authorization: Bearer ...``) or ``api-key``
        (Azure's ``api-key`` header).
    :param api_version: sent as the ``api-version`` query parameter (Azure).
    :param timeout_seconds: the most one request may take (connect and read);
        the engine's own budget (``theme_budget``/``classify_budget``) applies
        on top, and the built-in analyzers answer when either runs out.
    :param max_tickets: at most this many of the window's tickets are sent for themes.
    :param max_chars: each ticket's subject and body are cut to this many characters.
    :param max_answer_bytes: a larger answer is refused without reading further.
    :param response_format: ``json_schema`` (structured output) or, for servers
        that only know JSON mode, ``json_object``; the answer is validated
        against the same schema either way.
    :param classify: register the classifier.
    :param themes: register the theme analyzer.
    """

    base_url: str
    model: str
    api_key_env: str = DEFAULT_KEY_ENV
    auth: str = "bearer"
    api_version: str | None = None
    timeout_seconds: float = 10.0
    max_tickets: int = 50
    max_chars: int = 600
    max_answer_bytes: int = 256 * 1024
    response_format: str = "json_schema"
    temperature: float = 0.0
    classify: bool = True
    themes: bool = True


def settings_from_section(section: Section) -> OpenAISettings:
    """Parse and check the section; a mistake is one line naming file, line and key."""
    section.check_keys(_KEYS)
    base_url = (section.get_str("base_url", required=True) or "").rstrip("/")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise section.error("base_url", f"expected an http(s) URL, got {base_url!r}")
    if parts.query or parts.fragment:
        raise section.error("base_url", "expected a URL without ?query or #fragment")
    model = (section.get_str("model", required=True) or "").strip()
    if not model:
        raise section.error("model", "expected a model name")
    d = OpenAISettings(base_url=base_url, model=model)
    return OpenAISettings(
        base_url=base_url,
        model=model,
        api_key_env=section.get_str("api_key_env", d.api_key_env) or d.api_key_env,
        auth=section.get_str("auth", d.auth, choices=("bearer", "api-key")) or d.auth,
        api_version=_version(section),
        timeout_seconds=_float(section, "timeout_seconds", d.timeout_seconds, 0.1, 600.0),
        max_tickets=_int(section, "max_tickets", d.max_tickets, 1, 1000),
        max_chars=_int(section, "max_chars", d.max_chars, 20, 20_000),
        max_answer_bytes=_int(section, "max_answer_bytes", d.max_answer_bytes, 1024, 16 << 20),
        response_format=section.get_str(
            "response_format", d.response_format, choices=("json_schema", "json_object")
        )
        or d.response_format,
        temperature=_float(section, "temperature", d.temperature, 0.0, 2.0),
        classify=_bool(section, "classify", d.classify),
        themes=_bool(section, "themes", d.themes),
    )


def _version(section: Section) -> str | None:
    # YAML reads an unquoted 2024-10-21 as a date; it means the string.
    value = section.raw().get("api_version")
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return section.get_str("api_version")


def _float(section: Section, key: str, default: float, low: float, high: float) -> float:
    value = section.get_float(key, default, minimum=low, maximum=high)
    if value is None or value != value:  # NaN passes no comparison
        raise section.error(key, f"expected a number from {low:g} to {high:g}")
    return value


def _int(section: Section, key: str, default: int, low: int, high: int) -> int:
    value = section.get_int(key, default, minimum=low, maximum=high)
    return default if value is None else value


def _bool(section: Section, key: str, default: bool) -> bool:
    value = section.get_bool(key, default)
    return default if value is None else value
