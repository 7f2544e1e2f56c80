"""HTTP admin views (function-key auth): one function serving the whole ASGI app from report/app.py."""

from __future__ import annotations

import azure.functions as func

from pipeline.admin import admin_app

bp = func.Blueprint()  # type: ignore[no-untyped-call]
_asgi = func.AsgiMiddleware(admin_app())  # type: ignore[no-untyped-call]


@bp.route(route="{*path}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
async def admin_views(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    """/api/users, /api/users/{id}, /api/summary, /api/runs, /api/dashboard."""
    response: func.HttpResponse = await _asgi.handle_async(req, context)
    return response
