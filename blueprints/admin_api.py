"""HTTP admin views: one ASGI app (report/app.py) behind two doors, Entra ID sign-in for people and
function keys for scripts (report/access.py says who may use which).

The routes do not rely on the host preferring one over the other where they overlap (its route
precedence is not ASP.NET's: Azure/azure-functions-host issue 9876): ``admin_keyed`` also sorts first,
and should ``admin_views`` ever get a ``/api/keyed/…`` request, it still answers only a signed-in person.
"""

from __future__ import annotations

import azure.functions as func

from pipeline.admin import admin_app, signed_in_admin_app

bp = func.Blueprint()  # type: ignore[no-untyped-call]
_keyed = func.AsgiMiddleware(admin_app())  # type: ignore[no-untyped-call]
_signed_in = func.AsgiMiddleware(signed_in_admin_app())  # type: ignore[no-untyped-call]


@bp.route(route="keyed/{*path}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
async def admin_keyed(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    """/api/keyed/users, …/summary, …/runs, …/dashboard: for scripts, with the function key (x-functions-key)."""
    response: func.HttpResponse = await _keyed.handle_async(req, context)
    return response


@bp.route(route="{*path}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def admin_views(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    """/api/users, /api/users/{id}, /api/summary, /api/runs, /api/dashboard: for people signed in with Entra ID
    (App Service authentication in front; without it, or without a principal, refused)."""
    response: func.HttpResponse = await _signed_in.handle_async(req, context)
    return response
