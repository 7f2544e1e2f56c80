"""Who may read the admin views when they are served without a function key: people signed in with Entra ID.

In Azure the views have two doors. ``/api/keyed/…`` is for scripts: the Functions host checks the function
key before the request gets here. Everything else is for people: App Service authentication (Entra ID)
signs them in and passes each request on with ``X-MS-CLIENT-PRINCIPAL-ID`` and the other principal
headers, which it strips from what clients send ("External requests aren't allowed to set these headers,
so they're present only if set by App Service":
https://learn.microsoft.com/en-us/azure/app-service/configure-authentication-user-identities). That
promise holds only while App Service authentication is on, so this door answers nobody unless the
platform says it is on (``WEBSITE_AUTH_ENABLED``, which App Service sets when authentication is
enabled) *and* the request carries a principal: a forged header alone never opens it.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from report.app import KEYED_PREFIX, SECURITY_HEADERS

PRINCIPAL_HEADER = b"x-ms-client-principal-id"
SIGN_IN_OFF = (
    f"Entra ID sign-in (App Service authentication) is off for this app: call {KEYED_PREFIX}/… with the "
    "function key in the x-functions-key header, or turn sign-in on (docs/deploy.md)"
)
NOT_SIGNED_IN = "sign in with Entra ID (App Service authentication) to read the admin views"


def signed_in_only(app: ASGIApp, sign_in_on: Callable[[], bool]) -> ASGIApp:
    """``app`` for requests App Service authentication signed in; a JSON 403 or 401 for anything else."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        if not sign_in_on():
            await _refuse(403, SIGN_IN_OFF)(scope, receive, send)
            return
        principal = dict(scope.get("headers") or ()).get(PRINCIPAL_HEADER, b"").strip()
        if not principal:
            await _refuse(401, NOT_SIGNED_IN)(scope, receive, send)
            return
        await app(scope, receive, send)

    return guarded


def _refuse(status: int, message: str) -> Response:
    body = orjson.dumps({"error": message}, option=orjson.OPT_INDENT_2)
    return Response(body, status, headers=SECURITY_HEADERS, media_type="application/json")
