"""One chat-completions call with a JSON-schema answer, refused when it is not one.

Works with any server that speaks the OpenAI chat-completions API (OpenAI,
Azure OpenAI, vLLM, Ollama, llama.cpp server). What comes back is as hostile
as the ticket text the model read, so the answer is size-capped while it is
read, parsed, and validated against the schema before anyone looks at it.
Errors say what kind of failure it was (status, size, parse, schema), never
what the body said: a model's output may quote the tickets.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import httpx
from jsonschema import Draft202012Validator

from ticketspike.errors import PluginError
from ticketspike.secrets import Secret

from .settings import OpenAISettings

__all__ = ["ChatClient", "ModelAnswerError"]


class ModelAnswerError(PluginError):
    """The model could not be asked, or its answer is unusable; the built-in answers."""


class ChatClient:
    """A small client for ``POST {base_url}/chat/completions``.

    :param api_key: sent as ``Authorization: Bearer`` (or Azure's ``api-key``
        header); ``None`` for a local server without keys. Never logged.
    :param transport: an ``httpx`` transport, for hosts that route traffic
        their own way.
    """

    def __init__(
        self,
        settings: OpenAISettings,
        api_key: Secret | None,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key is not None:
            if settings.auth == "api-key":
                headers["api-key"] = api_key.reveal()
            else:
                headers["Authorization"] = f"Bearer {api_key.reveal()}"
        params = {"api-version": settings.api_version} if settings.api_version else None
        self._http = httpx.Client(
            headers=headers,
            params=params,
            timeout=httpx.Timeout(settings.timeout_seconds),
            follow_redirects=False,  # the key goes to the configured host only
            transport=transport,
        )
        self.url = f"{settings.base_url}/chat/completions"

    def __repr__(self) -> str:
        return f"ChatClient(url={self.url!r}, model={self.settings.model!r})"

    def close(self) -> None:
        self._http.close()

    def complete(
        self, *, system: str, user: str, name: str, schema: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The model's answer to one system + user message, as a schema-valid object.

        Raises :class:`ModelAnswerError` for a transport failure, a non-200
        status, an answer over ``max_answer_bytes`` or past ``timeout_seconds``
        in total, a body that is not a chat completion, a refusal, or content
        that is not JSON valid against ``schema``.
        """
        s = self.settings
        if s.response_format == "json_schema":
            response_format: dict[str, Any] = {
                "type": "json_schema",
                "json_schema": {"name": name, "strict": True, "schema": schema},
            }
        else:
            response_format = {"type": "json_object"}
        payload = {
            "model": s.model,
            "temperature": s.temperature,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
            "response_format": response_format,
        }
        body = self._post(payload)
        content = _content(body)
        try:
            answer = json.loads(content)
        except ValueError:
            raise ModelAnswerError("the answer's content is not JSON", plugin="openai") from None
        errors = sorted(Draft202012Validator(schema).iter_errors(answer), key=lambda e: e.path)
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path) or "the answer"
            raise ModelAnswerError(
                f"the answer does not match the schema at {where}", plugin="openai"
            )
        if not isinstance(answer, dict):
            raise ModelAnswerError("the answer is not a JSON object", plugin="openai")
        return answer

    def _post(self, payload: Mapping[str, Any]) -> Any:
        s = self.settings
        deadline = time.monotonic() + s.timeout_seconds
        try:
            with self._http.stream("POST", self.url, json=payload) as response:
                if response.status_code != 200:
                    raise ModelAnswerError(
                        f"the API answered HTTP {response.status_code}", plugin="openai"
                    )
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > s.max_answer_bytes:
                    raise ModelAnswerError(_too_big(s), plugin="openai")
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > s.max_answer_bytes:
                        raise ModelAnswerError(_too_big(s), plugin="openai")
                    if time.monotonic() > deadline:
                        raise ModelAnswerError(
                            f"the answer took longer than {s.timeout_seconds:g}s", plugin="openai"
                        )
                    chunks.append(chunk)
        except httpx.TimeoutException:
            raise ModelAnswerError(
                f"no answer within {s.timeout_seconds:g}s", plugin="openai"
            ) from None
        except httpx.HTTPError as exc:
            raise ModelAnswerError(
                f"the request failed ({type(exc).__name__})", plugin="openai"
            ) from None
        try:
            return json.loads(b"".join(chunks))
        except ValueError:
            raise ModelAnswerError("the API's answer is not JSON", plugin="openai") from None


def _too_big(s: OpenAISettings) -> str:
    return f"the answer is larger than max_answer_bytes ({s.max_answer_bytes})"


def _content(body: Any) -> str:
    """The first choice's message content, or why there is none."""
    try:
        message = body["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        raise ModelAnswerError("the answer is not a chat completion", plugin="openai") from None
    if not isinstance(message, dict):
        raise ModelAnswerError("the answer is not a chat completion", plugin="openai")
    if message.get("refusal"):
        raise ModelAnswerError("the model refused to answer", plugin="openai")
    content = message.get("content")
    if not isinstance(content, str) or not content.strip():
        raise ModelAnswerError("the answer has no content", plugin="openai")
    return content
