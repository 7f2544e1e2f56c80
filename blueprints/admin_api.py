"""HTTP views for admins (function-key auth): the users in the state table as JSON or CSV."""

from __future__ import annotations

import azure.functions as func
import orjson

from core.settings import load_settings
from report.users import ReportError, to_csv, to_json, user_rows, validate_status
from store.tables import table_service
from store.users import UserRepository

bp = func.Blueprint()  # type: ignore[no-untyped-call]

ALLOWED_PARAMS = {"format", "status", "code"}  # "code" carries the function key


@bp.route(route="users", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def list_users(req: func.HttpRequest) -> func.HttpResponse:
    try:
        unknown = sorted(set(req.params) - ALLOWED_PARAMS)
        if unknown:
            raise ReportError(f"unknown query parameter(s): {', '.join(unknown)}; allowed: format, status")
        fmt = req.params.get("format", "json")
        if fmt not in ("json", "csv"):
            raise ReportError(f"format: {fmt!r} is not one of json, csv")
        status = validate_status(req.params.get("status"))
    except ReportError as exc:
        return func.HttpResponse(orjson.dumps({"error": str(exc)}), status_code=400, mimetype="application/json")
    settings = load_settings()
    repo = UserRepository(table_service(settings).get_table_client("users"), settings.tenant_id)
    rows = user_rows(repo.query(status))
    if fmt == "csv":
        return func.HttpResponse(
            to_csv(rows),
            mimetype="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": 'attachment; filename="legacy-auth-users.csv"'},
        )
    return func.HttpResponse(to_json(rows), mimetype="application/json")
