"""The tenant table: findings about the tenant itself, such as the Apple app's presence and consent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from core.records import AppleAppStatus

APPLE_APP_ROW = "apple_app"


class TenantRepository:
    def __init__(self, table: TableClient, tenant_id: str) -> None:
        self._table = table
        self._tenant = tenant_id

    def load_apple_app(self) -> AppleAppStatus | None:
        """None means the Apple app has never been checked for this tenant."""
        try:
            row = self._table.get_entity(self._tenant, APPLE_APP_ROW)
        except ResourceNotFoundError:
            return None
        return AppleAppStatus(
            present=bool(row.get("Present")),
            service_principal_id=row.get("ServicePrincipalId") or None,
            display_name=row.get("DisplayName") or None,
            admin_consent=bool(row.get("AdminConsent")),
            scopes=tuple((row.get("Scopes") or "").split()),
        )

    def save_apple_app(self, status: AppleAppStatus, now: datetime) -> bool:
        """Write only when the finding changed; returns whether a row was written."""
        if self.load_apple_app() == status:
            return False
        entity: dict[str, Any] = {
            "PartitionKey": self._tenant,
            "RowKey": APPLE_APP_ROW,
            "Present": status.present,
            "ServicePrincipalId": status.service_principal_id or "",
            "DisplayName": status.display_name or "",
            "AdminConsent": status.admin_consent,
            "Scopes": " ".join(status.scopes),
            "Ready": status.ready,
            "ChangedAt": now,
        }
        self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)
        return True
