"""The ``server:`` config section: defaults, every key, and file:line errors."""

from __future__ import annotations

import pytest

from ticketspike.config import load_config
from ticketspike.errors import ConfigError
from ticketspike.http import ServerSettings, server_settings_from_config
from ticketspike.http.auth import BearerAuth
from ticketspike.http.errors import ApiError
from ticketspike.secrets import Secret


def settings_of(text: str) -> ServerSettings:
    config = load_config("ticketspike.yaml", text=text, env={})
    return server_settings_from_config(config.section("server"))


def test_no_section_means_the_safe_defaults():
    assert settings_of("detection: {}\n") == ServerSettings()
    defaults = ServerSettings()
    assert defaults.max_body_bytes == 1_048_576
    assert defaults.api_token_env == "TICKETSPIKE_API_TOKEN"
    assert defaults.cors_origins == ()
    assert defaults.background is True


def test_every_key_is_read():
    settings = settings_of(
        "server:\n"
        "  max_body_bytes: 65536\n"
        "  api_token_env: SUPPORT_API_TOKEN\n"
        "  cors_origins: [https://app.example.com, https://admin.example.com]\n"
        "  background: false\n"
        "  process_delay_seconds: 0.2\n"
        "  interval_seconds: 15\n"
        "  recent_tickets: 25\n"
        "  header_timeout_seconds: 4\n"
        "  body_timeout_seconds: 12.5\n"
        "  keep_alive_seconds: 2\n"
        "  keep_alive_max_requests: 50\n"
        "  max_connections: 300\n"
        "  shutdown_grace_seconds: 0\n"
        "  log_repeats_per_minute: 3\n"
    )
    assert settings == ServerSettings(
        max_body_bytes=65536,
        api_token_env="SUPPORT_API_TOKEN",
        cors_origins=("https://app.example.com", "https://admin.example.com"),
        background=False,
        process_delay_seconds=0.2,
        interval_seconds=15.0,
        recent_tickets=25,
        header_timeout_seconds=4.0,
        body_timeout_seconds=12.5,
        keep_alive_seconds=2.0,
        keep_alive_max_requests=50,
        max_connections=300,
        shutdown_grace_seconds=0.0,
        log_repeats_per_minute=3,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "server:\n  max_body: 10\n",
            "ticketspike.yaml:2: server.max_body: unknown key (did you mean 'max_body_bytes'?)",
        ),
        (
            "server:\n  max_body_bytes: lots\n",
            "ticketspike.yaml:2: server.max_body_bytes: expected a whole number",
        ),
        (
            "server:\n\n  max_body_bytes: 10\n",
            "ticketspike.yaml:3: server.max_body_bytes: expected a whole number >= 64",
        ),
        (
            "server:\n  cors_origins: https://x\n",
            "ticketspike.yaml:2: server.cors_origins: expected a list",
        ),
        (
            "server:\n  cors_origins: [3]\n",
            "ticketspike.yaml:2: server.cors_origins: item 0: expected an origin",
        ),
        (
            "server:\n  background: sometimes\n",
            "ticketspike.yaml:2: server.background: expected true or false",
        ),
        (
            "server:\n  api_token_env: ' '\n",
            "ticketspike.yaml:2: server.api_token_env: expected the name of an environment",
        ),
        (
            "server:\n  recent_tickets: 0\n",
            "ticketspike.yaml:2: server.recent_tickets: expected a whole number >= 1",
        ),
    ],
)
def test_bad_values_name_the_file_line_and_key(text, expected):
    with pytest.raises(ConfigError) as caught:
        settings_of(text)
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value)


def test_the_token_is_read_from_the_named_variable_and_never_shown():
    settings = ServerSettings(api_token_env="SUPPORT_API_TOKEN")
    token = settings.api_token({"SUPPORT_API_TOKEN": "s3cr3t-token", "TICKETSPIKE_API_TOKEN": "x"})
    assert token is not None and token.reveal() == "s3cr3t-token"
    assert settings.api_token({"SUPPORT_API_TOKEN": "  "}) is None
    assert "s3cr3t" not in repr(BearerAuth(token)) and "s3cr3t" not in repr(token)


def test_the_section_configures_the_app(harness_factory, kit):
    text = "server:\n  max_body_bytes: 512\n  api_token_env: OTHER_TOKEN\n"
    config = load_config(text=text, env={})
    settings = server_settings_from_config(config.section("server"))
    h = harness_factory(settings=settings, token_env={"OTHER_TOKEN": "other"})

    assert h.post_ticket(kit.ticket(body="x" * 600)).status_code == 413
    allowed = h.client.get("/api/support/escalations", headers={"Authorization": "Bearer other"})
    assert allowed.status_code == 200
    assert h.client.get("/api/support/escalations", headers=h.auth).status_code == 401


def test_create_app_reads_the_engines_config_when_given_no_settings(kit):
    from ticketspike.http import create_app

    engine = kit.make_engine(config_text="server:\n  max_body_bytes: 256\n  background: false\n")
    app = create_app(engine, env={})
    assert app.state.settings.max_body_bytes == 256
    assert app.state.processor is None
    engine.close()


def test_bearer_auth_accepts_only_the_exact_token():
    auth = BearerAuth(Secret("abc"))
    auth.check("Bearer abc")
    auth.check("bearer   abc  ")
    for bad in (None, "", "Bearer", "Bearer abcd", "Bearer ab", "Token abc", "abc"):
        with pytest.raises(ApiError) as caught:
            auth.check(bad)
        assert caught.value.status == 401
