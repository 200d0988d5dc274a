"""Built-in plugin: the statistical theme analyzer and the naive Bayes classifier.

Registered like any third-party plugin, so a host can block it or put a
language-model analyzer in front of it; the engine's fallback picks these
built-ins when a plugin fails or overruns. Their settings come from the
top-level ``themes:`` and ``classification:`` config sections.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from ..configfile import Section
from ..hookspecs import hookimpl
from ..roles import Classifier, PluginConfig, ThemeAnalyzer
from ..text.classify import NaiveBayesClassifier, classification_settings_from_config, train
from ..text.themes import StatisticalThemeAnalyzer, theme_settings_from_config

__all__ = ["register_classifiers", "register_theme_analyzers"]


def _top_section(config: PluginConfig, name: str) -> Section | None:
    # PluginConfig.root is the whole file; older hosts may build a PluginConfig without it.
    root = getattr(config, "root", None)
    if not isinstance(root, Section):
        return None
    return root.get_section(name)


@hookimpl
def register_theme_analyzers(
    register: Callable[[ThemeAnalyzer], None], config: PluginConfig
) -> None:
    settings = theme_settings_from_config(_top_section(config, "themes"))
    # Frozen values satisfy the protocol at run time; mypy wants ``name`` settable.
    register(cast(ThemeAnalyzer, StatisticalThemeAnalyzer(settings=settings)))


@hookimpl
def register_classifiers(register: Callable[[Classifier], None], config: PluginConfig) -> None:
    section = _top_section(config, "classification")
    classifier: NaiveBayesClassifier = train(classification_settings_from_config(section))
    register(cast(Classifier, classifier))
