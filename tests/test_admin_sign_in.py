"""The admin views' two doors over real HTTP: Entra ID sign-in for people, the function key for scripts.

App Service authentication puts ``X-MS-CLIENT-PRINCIPAL-ID`` (and ``-NAME``, ``-IDP``) on each request it
signed in and strips them from what clients send ("External requests aren't allowed to set these headers":
https://learn.microsoft.com/en-us/azure/app-service/configure-authentication-user-identities); the platform
sets ``WEBSITE_AUTH_ENABLED=True`` while it is on (the variable Microsoft.Identity.Web reads, mirrored in
Azure/data-api-builder pull request 1011, AppServicesAuthenticationInformation.cs). The principal id below
is the example value of Microsoft's "Decode the client principal header" sample shape (a GUID object id).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from devstack.asgi_server import AsgiServer
from devstack.azurite import Azurite
from pipeline.admin import admin_app, signed_in_admin_app
from pipeline.settings import Settings, load_settings
from pipeline.wiring import StateTables

SIGNED_IN = {
    "X-MS-CLIENT-PRINCIPAL-ID": "00000000-0000-0000-0000-000000000000",
    "X-MS-CLIENT-PRINCIPAL-NAME": "admin@contoso.example",
    "X-MS-CLIENT-PRINCIPAL-IDP": "aad",
}


@pytest.fixture
def settings(azurite: Azurite, tenant_id: str) -> Settings:
    loaded = load_settings(
        {
            "LAM_TENANT_ID": tenant_id,
            "LAM_NOTIFY_MODE": "off",
            "LAM_TABLES_CONNECTION_STRING": azurite.connection_string,
        }
    )
    StateTables.open(loaded, create=True)
    return loaded


@pytest.fixture
def people_door(settings: Settings) -> Iterator[str]:
    server = AsgiServer(signed_in_admin_app(lambda: settings), name="admin-people").start()
    yield server.url
    server.stop()


def test_with_sign_in_on_only_a_signed_in_person_gets_in(people_door: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    anonymous = httpx.get(people_door + "/api/summary", timeout=30)
    assert anonymous.status_code == 401
    assert anonymous.json() == {"error": "sign in with Entra ID (App Service authentication) to read the admin views"}
    assert anonymous.headers["strict-transport-security"].startswith("max-age=")
    assert (
        httpx.get(people_door + "/api/summary", headers={"X-MS-CLIENT-PRINCIPAL-ID": ""}, timeout=30).status_code == 401
    )
    person = httpx.get(people_door + "/api/summary", headers=SIGNED_IN, timeout=30)
    assert person.status_code == 200 and person.json()["tracked"] == 0
    page = httpx.get(people_door + "/api/dashboard", headers=SIGNED_IN, timeout=30)
    assert page.status_code == 200 and 'href="/api/static/dashboard.css"' in page.text and "code=" not in page.text


@pytest.mark.parametrize("setting", [None, "False", ""])
def test_with_sign_in_off_a_forged_principal_header_opens_nothing(
    people_door: str, monkeypatch: pytest.MonkeyPatch, setting: str | None
) -> None:
    if setting is None:
        monkeypatch.delenv("WEBSITE_AUTH_ENABLED", raising=False)
    else:
        monkeypatch.setenv("WEBSITE_AUTH_ENABLED", setting)
    for path in ("/api/summary", "/api/users", "/api/dashboard", "/api/keyed/summary"):
        forged = httpx.get(people_door + path, headers=SIGNED_IN, timeout=30)
        assert forged.status_code == 403, path
        assert "call /api/keyed/… with the function key" in forged.json()["error"]
        assert forged.headers["content-security-policy"].startswith("default-src 'none'")


def test_the_key_door_serves_the_same_views_under_api_keyed_with_links_that_stay_there(settings: Settings) -> None:
    server = AsgiServer(admin_app(lambda: settings), name="admin-keyed").start()
    try:
        summary = httpx.get(server.url + "/api/keyed/summary", timeout=30)
        page = httpx.get(server.url + "/api/keyed/dashboard", params={"code": "k1"}, timeout=30)
        css = httpx.get(server.url + "/api/keyed/static/dashboard.css", timeout=30)
    finally:
        server.stop()
    assert summary.status_code == 200 and summary.json()["tracked"] == 0
    assert page.status_code == 200
    assert 'href="/api/keyed/static/dashboard.css?code=k1"' in page.text
    assert 'href="/api/keyed/users?format=csv&amp;code=k1"' in page.text
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_a_code_given_on_the_peoples_door_is_not_echoed_into_its_links(
    people_door: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    page = httpx.get(people_door + "/api/dashboard", params={"code": "k1"}, headers=SIGNED_IN, timeout=30)
    views = httpx.get(people_door + "/api/protocols", params={"code": "k1"}, headers=SIGNED_IN, timeout=30)
    assert page.status_code == 200 and 'href="/api/static/dashboard.css"' in page.text
    assert "k1" not in page.text and "k1" not in views.text
    assert page.headers["referrer-policy"] == "no-referrer"
