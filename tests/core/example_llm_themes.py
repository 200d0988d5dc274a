"""Example plugin: a theme analyzer backed by a language model the host already runs.

It talks to any OpenAI-compatible ``/v1/chat/completions`` endpoint with the
standard library only, so ticketspike itself never depends on a model
library. Copy it into your own distribution and register it under the
``ticketspike`` entry-point group; it serves when the config has::

    plugins:
      llm_themes:
        base_url: http://127.0.0.1:8080   # your model gateway
        model: small-model
        token_env: LLM_API_TOKEN          # the variable holding the token

The engine calls it within a time budget; if it raises, overruns or answers
nonsense, the built-in statistical analyzer answers instead. Only ticket
subjects are sent (never bodies), each cut short, and the model's phrases are
cleaned by ticketspike before anyone sees them.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence

from ticketspike import PluginConfig, Secret, Theme, ThemeAnalyzer, Ticket, hookimpl

PROMPT = (
    "These are subjects of support tickets a customer opened today. Name at most {limit} "
    "common issues as short phrases of two or three words. Answer with a JSON list of "
    'objects {{"phrase": str, "ticket_ids": [str]}} and nothing else.\n\n{subjects}'
)


class LLMThemeAnalyzer:
    """Asks a chat-completions endpoint for themes; raises on any surprise."""

    name = "llm-themes"

    def __init__(
        self, *, base_url: str, model: str, token: Secret | None, timeout: float = 10.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._token = token
        self.timeout = timeout

    def analyze(
        self, window: Sequence[Ticket], baseline: Sequence[Ticket], *, limit: int = 5
    ) -> list[Theme]:
        subjects = "\n".join(f"{t.ticket_id}: {t.subject[:120]}" for t in window[:200])
        body = json.dumps(
            {
                "model": self.model,
                "messages": [
                    {"role": "user", "content": PROMPT.format(limit=limit, subjects=subjects)}
                ],
                "temperature": 0,
            }
        ).encode()
        request = urllib.request.Request(
            f"{self.base_url}/v1/chat/completions",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        if self._token is not None:
            request.add_header("Authorization", f"Bearer {self._token.reveal()}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            exc.close()  # an HTTPError holds the open response
            raise RuntimeError(f"the model server answered HTTP {exc.code}") from None
        items = json.loads(answer["choices"][0]["message"]["content"])
        known = {t.ticket_id for t in window}
        themes = []
        for item in items[:limit]:
            ids = tuple(i for i in item.get("ticket_ids", []) if i in known)
            themes.append(Theme(phrase=str(item["phrase"]), count=len(ids), ticket_ids=ids[:3]))
        return themes


@hookimpl
def register_theme_analyzers(
    register: Callable[[ThemeAnalyzer], None], config: PluginConfig
) -> None:
    section = config.section("llm_themes")
    if section is None:
        return  # installed but not configured: stay quiet
    section.check_keys({"base_url", "model", "token_env", "timeout"})
    register(
        LLMThemeAnalyzer(
            base_url=section.get_str("base_url", required=True) or "",
            model=section.get_str("model", "default") or "default",
            token=config.secret(section, "token_env", "LLM_API_TOKEN"),
            timeout=section.get_float("timeout", 10.0, minimum=0.1) or 10.0,
        )
    )
