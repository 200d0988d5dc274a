"""The ticketspike entry point of this distribution (hook implementations).

Installed but not configured, it registers nothing and the built-in analyzers
answer. Configured (``plugins: {openai: {base_url, model, ...}}``), it
registers a classifier and a theme analyzer (each can be turned off with
``classify: false`` / ``themes: false``), which the engine then asks first,
within its time budget, falling back to the built-ins.
"""

from __future__ import annotations

from collections.abc import Callable

from ticketspike import Classifier, PluginConfig, ThemeAnalyzer, hookimpl
from ticketspike.secrets import Secret

from .analyzer import OpenAIClassifier, OpenAIThemeAnalyzer
from .client import ChatClient
from .settings import DEFAULT_KEY_ENV, settings_from_section

__all__ = ["register_classifiers", "register_theme_analyzers"]


def _client(config: PluginConfig, role: str) -> ChatClient | None:
    """A client for ``role`` (``classify`` or ``themes``), unless the config turns it off."""
    section = config.section("openai")
    if section is None:
        return None
    settings = settings_from_section(section)
    if not getattr(settings, role):
        return None  # no client, so no connection pool left unclosed
    key: Secret | None
    if "api_key_env" in section:
        # Named on purpose: an unset variable is a mistake worth a clear error.
        key = config.require_secret(
            section, "api_key_env", DEFAULT_KEY_ENV, what="the API key of the model server"
        )
    else:
        key = config.secret(section, "api_key_env", DEFAULT_KEY_ENV)  # a local server needs none
    return ChatClient(settings, key)


@hookimpl
def register_classifiers(register: Callable[[Classifier], None], config: PluginConfig) -> None:
    client = _client(config, "classify")
    if client is not None:
        register(OpenAIClassifier(client))


@hookimpl
def register_theme_analyzers(
    register: Callable[[ThemeAnalyzer], None], config: PluginConfig
) -> None:
    client = _client(config, "themes")
    if client is not None:
        register(OpenAIThemeAnalyzer(client))
