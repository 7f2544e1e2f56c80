"""Settings: defaults, and errors that name the setting at fault."""

from __future__ import annotations

import pytest

from pipeline.settings import SettingsError, load_settings

TENANT = "5b1d7a0e-3c39-4f0e-9a8e-4d2c6f1b7a90"
BASE = {
    "LAM_TENANT_ID": TENANT,
    "LAM_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
    "LAM_SENDER_ADDRESS": "DoNotReply@contoso.example",
}


def problems(env: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    return str(info.value)


def test_defaults_for_a_production_deployment() -> None:
    settings = load_settings(
        {**BASE, "LAM_TABLES_CONNECTION_STRING": "", "LAM_TABLES_ENDPOINT": "https://st.table.core.windows.net"}
    )
    assert settings.graph_base_url == "https://graph.microsoft.com"
    assert settings.signins_api_version == "beta"
    assert settings.graph_auth == "managed-identity"
    assert settings.notify_mode == "dry-run"
    assert (settings.lookback_days, settings.overlap_minutes, settings.rules.stale_days) == (30, 15, 60)
    assert settings.legacy_protocols == ("Exchange ActiveSync", "Authenticated SMTP"), "SMTP AUTH watched"
    assert settings.signins_rate_limit == (5, 10.0), "Graph's limit for sign-in logs"
    assert (settings.graph_max_retries, settings.collect_max_seconds, settings.checkpoint_pages) == (5, 1500, 50)


def test_missing_tenant_and_storage_are_both_named() -> None:
    message = problems({"LAM_SENDER_ADDRESS": "a@b.example"})
    assert "LAM_TENANT_ID: required" in message
    assert "LAM_TABLES_CONNECTION_STRING / LAM_TABLES_ENDPOINT: one of them is required" in message


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("LAM_TENANT_ID", "contoso", "LAM_TENANT_ID: must be a GUID"),
        ("LAM_SIGNINS_API_VERSION", "v2", "LAM_SIGNINS_API_VERSION: must be one of 'beta', 'v1.0'"),
        ("LAM_GRAPH_AUTH", "password", "LAM_GRAPH_AUTH: must be one of"),
        ("LAM_NOTIFY_MODE", "loud", "LAM_NOTIFY_MODE: must be one of 'off', 'dry-run', 'live'"),
        (
            "LAM_GRAPH_BASE_URL",
            "http://graph.example.com",
            "LAM_GRAPH_BASE_URL: plain http is only allowed for loopback",
        ),
        ("LAM_GRAPH_BASE_URL", "graph.microsoft.com", "LAM_GRAPH_BASE_URL: must be an absolute https:// URL"),
        ("LAM_LOOKBACK_DAYS", "45", "LAM_LOOKBACK_DAYS: must be from 1 to 30"),
        ("LAM_OVERLAP_MINUTES", "soon", "LAM_OVERLAP_MINUTES: must be a whole number"),
        ("LAM_SENDER_ADDRESS", "helpdesk", "LAM_SENDER_ADDRESS: must be an email address"),
        ("LAM_LEGACY_PROTOCOLS", "Exchange ActiveSync,Carrier Pigeon", "unknown: Carrier Pigeon"),
        ("LAM_EXCLUDED_UPNS", "svc-scanner", "LAM_EXCLUDED_UPNS: each entry must be a user principal name"),
        ("LAM_SIGNINS_RATE_LIMIT", "5 per 10 s", "LAM_SIGNINS_RATE_LIMIT: must be requests per seconds, like 5/10s"),
        ("LAM_SIGNINS_RATE_LIMIT", "0/10s", "LAM_SIGNINS_RATE_LIMIT: must be requests per seconds"),
        ("LAM_GRAPH_TIMEOUT_SECONDS", "forever", "LAM_GRAPH_TIMEOUT_SECONDS: must be a number of seconds from 0.1"),
        ("LAM_GRAPH_TIMEOUT_SECONDS", "900", "LAM_GRAPH_TIMEOUT_SECONDS: must be from 0.1 to 600 seconds"),
        ("LAM_GRAPH_MAX_RETRIES", "-1", "LAM_GRAPH_MAX_RETRIES: must be from 0 to 20"),
        ("LAM_CHECKPOINT_PAGES", "0", "LAM_CHECKPOINT_PAGES: must be from 1 to 1000"),
        ("LAM_SENDER_OWNERS", "scanner@contoso.example", "LAM_SENDER_OWNERS: each entry must be sender-upn=owner"),
        (
            "LAM_SENDER_OWNERS",
            "a@contoso.example=b@contoso.example,scanner@contoso.example=Scanner@contoso.example",
            "not: scanner@contoso.example=Scanner@contoso.example",  # the mailbox nobody reads is no owner
        ),
    ],
)
def test_a_wrong_value_names_its_setting(name: str, value: str, expected: str) -> None:
    assert expected in problems({**BASE, name: value})


def test_none_auth_is_refused_for_a_real_graph_endpoint() -> None:
    assert "LAM_GRAPH_AUTH: 'none' sends no token" in problems({**BASE, "LAM_GRAPH_AUTH": "none"})


def test_live_mode_needs_an_acs_endpoint() -> None:
    assert "LAM_ACS_ENDPOINT: required when LAM_NOTIFY_MODE is 'live'" in problems({**BASE, "LAM_NOTIFY_MODE": "live"})


def test_both_storage_settings_are_refused() -> None:
    message = problems({**BASE, "LAM_TABLES_ENDPOINT": "https://st.table.core.windows.net"})
    assert "set only one of them" in message


def test_secrets_are_never_echoed() -> None:
    message = problems({**BASE, "LAM_ACS_KEY": "not base64 at all!!", "LAM_TENANT_ID": "x"})
    assert "LAM_ACS_KEY: must be the base64 access key" in message
    assert "not base64 at all" not in message


def test_lists_are_parsed_and_normalised() -> None:
    settings = load_settings(
        {
            **BASE,
            "LAM_EXCLUDED_UPNS": " Room.A@Contoso.example , svc@contoso.example",
            "LAM_LEGACY_PROTOCOLS": "IMAP4, POP3",
        }
    )
    assert settings.rules.excluded_upns == {"room.a@contoso.example", "svc@contoso.example"}
    assert settings.legacy_protocols == ("IMAP4", "POP3")


# Shapes from Microsoft's "Configure a connection string" (MicrosoftDocs/azure-docs,
# articles/storage/common/storage-configure-connection-string.md): Azurite's well-known account, an
# account key, a SAS with an explicit endpoint, and the emulator shortcut. The key below is Azurite's
# published development key, not a secret.
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
VALID_CONNECTION_STRINGS = [
    "UseDevelopmentStorage=true",
    f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};"
    "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;",
    f"DefaultEndpointsProtocol=https;AccountName=stlam;AccountKey={AZURITE_KEY};EndpointSuffix=core.windows.net",
    "TableEndpoint=https://stlam.table.core.windows.net/;SharedAccessSignature=sv=2022-11-02&ss=t&sig=abc",
]


@pytest.mark.parametrize("connection_string", VALID_CONNECTION_STRINGS)
def test_storage_connection_strings_in_their_documented_shapes_are_accepted(connection_string: str) -> None:
    settings = load_settings({**BASE, "LAM_TABLES_CONNECTION_STRING": connection_string})
    assert settings.tables_connection_string == connection_string


@pytest.mark.parametrize(
    ("connection_string", "expected"),
    [
        ("garbage", "must be a storage connection string of Key=Value pairs separated by ';'"),
        ("AccountName=stlam;Password=hunter2", "unknown connection string key(s): password"),
        (
            "AccountName=stlam;EndpointSuffix=core.windows.net",
            "needs AccountName and AccountKey, TableEndpoint and SharedAccessSignature, or UseDevelopmentStorage=true",
        ),
        ("AccountName=stlam;AccountKey=not base64!", "AccountKey must be the base64 account key"),
    ],
)
def test_a_wrong_connection_string_is_named_without_showing_it(connection_string: str, expected: str) -> None:
    message = problems({**BASE, "LAM_TABLES_CONNECTION_STRING": connection_string})
    assert f"LAM_TABLES_CONNECTION_STRING: {expected} (the value is not shown: it is a secret)" in message
    assert "one of them is required" not in message  # one problem, said once
    for secret_part in ("hunter2", "not base64!", "garbage"):
        assert secret_part not in message.replace(expected, "")


def test_a_url_with_an_impossible_port_is_refused_once() -> None:
    message = problems({**BASE, "LAM_GRAPH_BASE_URL": "https://graph.microsoft.com:99999", "LAM_GRAPH_AUTH": "none"})
    assert message.count("\n  ") == 1, message  # only the URL itself, not a second error about the default
    assert "LAM_GRAPH_BASE_URL: the port must be a number from 0 to 65535" in message


def test_the_owner_map_is_read_with_upns_in_any_case() -> None:
    settings = load_settings({**BASE, "LAM_SENDER_OWNERS": " Scanner@Contoso.example = facilities@contoso.example ,"})
    assert settings.messages.owners == {"scanner@contoso.example": "facilities@contoso.example"}
