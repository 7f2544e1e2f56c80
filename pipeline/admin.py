"""The admin views wired to the state tables: one app for the HTTP function and `cli serve`."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache

from starlette.applications import Starlette
from starlette.types import ASGIApp

from pipeline.outage import QUICK_CONNECT_RETRIES, storage_problem
from pipeline.settings import Settings, load_settings
from pipeline.wiring import StateTables
from report.access import signed_in_only
from report.app import build_admin_app


@lru_cache(maxsize=4)
def _tables(settings: Settings) -> StateTables:
    return StateTables.open(settings, connect_retries=QUICK_CONNECT_RETRIES)


def admin_app(settings_loader: Callable[[], Settings] = load_settings) -> Starlette:
    """Settings are read at the first request (not at import), then the tables are reused; a storage
    outage is answered at once as a 503 naming the setting."""
    return build_admin_app(lambda: _tables(settings_loader()), lambda exc: storage_problem(exc, settings_loader()))


def signed_in_admin_app(settings_loader: Callable[[], Settings] = load_settings) -> ASGIApp:
    """The same views for people: only requests App Service authentication signed in (report/access.py)."""
    return signed_in_only(admin_app(settings_loader), app_service_sign_in_on)


def app_service_sign_in_on() -> bool:
    """Whether App Service authentication is on for this app, as the platform tells it (``WEBSITE_AUTH_ENABLED``
    is "True" then: the variable Microsoft.Identity.Web reads for the same question)."""
    return os.environ.get("WEBSITE_AUTH_ENABLED", "").casefold() == "true"
