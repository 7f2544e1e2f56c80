"""The admin views wired to the state tables: one app for the HTTP function and `cli serve`."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from starlette.applications import Starlette

from pipeline.outage import QUICK_CONNECT_RETRIES, storage_problem
from pipeline.settings import Settings, load_settings
from pipeline.wiring import StateTables
from report.app import build_admin_app


@lru_cache(maxsize=4)
def _tables(settings: Settings) -> StateTables:
    return StateTables.open(settings, connect_retries=QUICK_CONNECT_RETRIES)


def admin_app(settings_loader: Callable[[], Settings] = load_settings) -> Starlette:
    """Settings are read at the first request (not at import), then the tables are reused; a storage
    outage is answered at once as a 503 naming the setting."""
    return build_admin_app(lambda: _tables(settings_loader()), lambda exc: storage_problem(exc, settings_loader()))
