"""AI text analysis for ticketspike through an OpenAI-compatible chat-completions API.

A classifier and a theme analyzer that ask a language model (OpenAI, Azure
OpenAI, or a local vLLM, Ollama or llama.cpp server) for structured JSON
answers. Ticket text is treated as hostile: it only ever travels inside the
user message, as JSON data; the answer is validated against a JSON schema and
the known categories; themes are cleaned like ticket text. When the model is
slow, down or answers nonsense, the engine's fallback lets the built-in
analyzers answer.
"""

from __future__ import annotations

from .analyzer import OpenAIClassifier, OpenAIThemeAnalyzer
from .client import ChatClient, ModelAnswerError
from .settings import OpenAISettings, settings_from_section

__all__ = [
    "ChatClient",
    "ModelAnswerError",
    "OpenAIClassifier",
    "OpenAISettings",
    "OpenAIThemeAnalyzer",
    "settings_from_section",
]
