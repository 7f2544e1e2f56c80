"""The tenant table: one row per finding about the tenant (Apple app, consent, CA block, attack)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from core.findings import AttackFinding, DeviceFinding, ExchangeSwitches, RetirementBaseline, TenantSnapshot
from core.ingest import UnreadSpan
from core.records import AppleAppStatus, ConsentPolicy, LegacyBlockPolicy
from store.checkpoints import spans_from_json, spans_to_json
from store.tables import utc_datetime

APPLE_APP_ROW = "apple_app"
USER_CONSENT_ROW = "user_consent"
LEGACY_BLOCK_ROW = "ca_legacy_block"
ATTACK_ROW = "attack"
DEVICES_ROW = "device_partnerships"
SIGNIN_LOGS_ROW = "signin_logs"
SWITCHES_ROW = "exchange_switches"
BASELINE_ROW = "retirement_baseline"
UNREAD_ROW = "unread_signins"
_SYSTEM = {"PartitionKey", "RowKey", "Timestamp", "etag", "ChangedAt"}


class TenantRepository:
    def __init__(self, table: TableClient, tenant_id: str) -> None:
        self._table = table
        self._tenant = tenant_id

    def _load(self, row: str) -> dict[str, Any] | None:
        try:
            entity = self._table.get_entity(self._tenant, row)
        except ResourceNotFoundError:
            return None
        return {k: v for k, v in entity.items() if k not in _SYSTEM}

    def _save(self, row: str, properties: dict[str, Any], now: datetime) -> bool:
        """Write only when the finding changed; returns whether a row was written."""
        if self._load(row) == properties:
            return False
        entity = {"PartitionKey": self._tenant, "RowKey": row, **properties, "ChangedAt": now}
        self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)
        return True

    def load_apple_app(self) -> AppleAppStatus | None:
        """None means the Apple app has never been checked for this tenant."""
        row = self._load(APPLE_APP_ROW)
        if row is None:
            return None
        return AppleAppStatus(
            present=bool(row.get("Present")),
            service_principal_id=row.get("ServicePrincipalId") or None,
            display_name=row.get("DisplayName") or None,
            admin_consent=bool(row.get("AdminConsent")),
            scopes=tuple((row.get("Scopes") or "").split()),
        )

    def save_apple_app(self, status: AppleAppStatus, now: datetime) -> bool:
        return self._save(
            APPLE_APP_ROW,
            {
                "Present": status.present,
                "ServicePrincipalId": status.service_principal_id or "",
                "DisplayName": status.display_name or "",
                "AdminConsent": status.admin_consent,
                "Scopes": " ".join(status.scopes),
                "Ready": status.ready,
            },
            now,
        )

    def load_user_consent(self) -> ConsentPolicy | None:
        row = self._load(USER_CONSENT_ROW)
        if row is None:
            return None
        known = row.get("Known")
        return ConsentPolicy(
            users_can_consent=bool(row.get("UsersCanConsent")) if known else None,
            policies=tuple((row.get("Policies") or "").split()),
            problem=row.get("Problem") or "",
        )

    def save_user_consent(self, policy: ConsentPolicy, now: datetime) -> bool:
        return self._save(
            USER_CONSENT_ROW,
            {
                "Known": policy.users_can_consent is not None,
                "UsersCanConsent": bool(policy.users_can_consent),
                "Policies": " ".join(policy.policies),
                "Problem": policy.problem,
            },
            now,
        )

    def load_legacy_block(self) -> LegacyBlockPolicy | None:
        row = self._load(LEGACY_BLOCK_ROW)
        if row is None:
            return None
        return LegacyBlockPolicy(
            blocking=tuple(orjson.loads(row.get("Blocking") or "[]")),
            report_only=tuple(orjson.loads(row.get("ReportOnly") or "[]")),
            readable=bool(row.get("Readable")),
            problem=row.get("Problem") or "",
        )

    def save_legacy_block(self, policy: LegacyBlockPolicy, now: datetime) -> bool:
        return self._save(
            LEGACY_BLOCK_ROW,
            {
                "Blocking": orjson.dumps(list(policy.blocking)).decode(),
                "ReportOnly": orjson.dumps(list(policy.report_only)).decode(),
                "Readable": policy.readable,
                "Problem": policy.problem,
            },
            now,
        )

    def load_attack(self) -> AttackFinding | None:
        row = self._load(ATTACK_ROW)
        if row is None:
            return None
        first, last = utc_datetime(row.get("FirstSeen")), utc_datetime(row.get("LastSeen"))
        if first is None or last is None:
            return None
        return AttackFinding(
            accounts=int(row.get("Accounts") or 0),
            sources={str(k): int(v) for k, v in orjson.loads(row.get("Sources") or "{}").items()},
            first_seen=first,
            last_seen=last,
            source_count=int(row.get("SourceCount") or 0),
        )

    def save_attack(self, finding: AttackFinding, now: datetime) -> bool:
        return self._save(
            ATTACK_ROW,
            {
                "Accounts": finding.accounts,
                "Sources": orjson.dumps(finding.sources).decode(),
                "FirstSeen": finding.first_seen,
                "LastSeen": finding.last_seen,
                "SourceCount": finding.source_count,
            },
            now,
        )

    def load_device_finding(self) -> DeviceFinding | None:
        row = self._load(DEVICES_ROW)
        if row is None:
            return None
        return DeviceFinding(
            readable=bool(row.get("Readable")),
            problem=row.get("Problem") or "",
            devices=int(row.get("Devices") or 0),
            legacy=int(row.get("Legacy") or 0),
            obsolete=int(row.get("Obsolete") or 0),
            requests=int(row.get("Requests") or 0),
        )

    def save_device_finding(self, finding: DeviceFinding, now: datetime) -> bool:
        return self._save(
            DEVICES_ROW,
            {
                "Readable": finding.readable,
                "Problem": finding.problem,
                "Devices": finding.devices,
                "Legacy": finding.legacy,
                "Obsolete": finding.obsolete,
                "Requests": finding.requests,
            },
            now,
        )

    def load_switches(self) -> ExchangeSwitches | None:
        row = self._load(SWITCHES_ROW)
        if row is None:
            return None
        return ExchangeSwitches(
            readable=bool(row.get("Readable")),
            problem=row.get("Problem") or "",
            org_smtp_auth_disabled=_flag(row.get("OrgSmtpAuthDisabled")),
            org_ews_enabled=_flag(row.get("OrgEwsEnabled")),
            senders_checked=int(row.get("SendersChecked") or 0),
            smtp_enabled=tuple(orjson.loads(row.get("SmtpEnabled") or "[]")),
            smtp_enabled_count=int(row.get("SmtpEnabledCount") or 0),
            smtp_disabled_count=int(row.get("SmtpDisabledCount") or 0),
            ews_checked=int(row.get("EwsChecked") or 0),
            ews_disabled_count=int(row.get("EwsDisabledCount") or 0),
            skipped=int(row.get("Skipped") or 0),
        )

    def save_switches(self, switches: ExchangeSwitches, now: datetime) -> bool:
        return self._save(
            SWITCHES_ROW,
            {
                "Readable": switches.readable,
                "Problem": switches.problem,
                "OrgSmtpAuthDisabled": _flag_text(switches.org_smtp_auth_disabled),
                "OrgEwsEnabled": _flag_text(switches.org_ews_enabled),
                "SendersChecked": switches.senders_checked,
                "SmtpEnabled": orjson.dumps(list(switches.smtp_enabled)).decode(),
                "SmtpEnabledCount": switches.smtp_enabled_count,
                "SmtpDisabledCount": switches.smtp_disabled_count,
                "EwsChecked": switches.ews_checked,
                "EwsDisabledCount": switches.ews_disabled_count,
                "Skipped": switches.skipped,
            },
            now,
        )

    def load_baseline(self) -> RetirementBaseline | None:
        row = self._load(BASELINE_ROW)
        first = utc_datetime(row.get("FirstRun")) if row else None
        if row is None or first is None:
            return None
        ids = orjson.loads(row.get("Ids") or "{}")
        started = orjson.loads(row.get("Started") or "{}")  # rows written before it: every count on the first run
        return RetirementBaseline(
            first_run=first,
            accounts={str(k): int(v) for k, v in orjson.loads(row.get("Accounts") or "{}").items()},
            ids={str(k): tuple(str(i) for i in v) for k, v in ids.items() if isinstance(v, list)},
            started={str(k): when for k, v in started.items() if (when := _iso(v)) is not None},
        )

    def save_baseline(self, baseline: RetirementBaseline, now: datetime) -> bool:
        """Written whole: rules.retirements.extend_baseline decides what may change (only counts not yet taken)."""
        return self._save(
            BASELINE_ROW,
            {
                "FirstRun": baseline.first_run,
                "Accounts": orjson.dumps(baseline.accounts).decode(),
                "Ids": orjson.dumps({k: list(v) for k, v in baseline.ids.items()}).decode(),
                "Started": orjson.dumps({k: v.isoformat() for k, v in baseline.started.items()}).decode(),
            },
            now,
        )

    def save_signin_logs(self, available: bool, now: datetime) -> bool:
        return self._save(SIGNIN_LOGS_ROW, {"Available": available}, now)

    def signin_logs_available(self) -> bool | None:
        row = self._load(SIGNIN_LOGS_ROW)
        return None if row is None else bool(row.get("Available"))

    def load_unread(self) -> list[UnreadSpan]:
        """Spans of the sign-in log skipped as poison, newest first (none: never any)."""
        row = self._load(UNREAD_ROW)
        return spans_from_json(row.get("Spans")) if row is not None else []

    def save_unread(self, spans: list[UnreadSpan], now: datetime) -> bool:
        if not spans and self._load(UNREAD_ROW) is None:
            return False
        return self._save(UNREAD_ROW, {"Spans": spans_to_json(spans)}, now)

    def snapshot(self) -> TenantSnapshot:
        """Every stored check of the tenant, for the findings (rules/readiness.py judges them)."""
        return TenantSnapshot(
            apple_app=self.load_apple_app(),
            user_consent=self.load_user_consent(),
            legacy_block=self.load_legacy_block(),
            attack=self.load_attack(),
            devices=self.load_device_finding(),
            signin_logs_available=self.signin_logs_available(),
            switches=self.load_switches(),
            baseline=self.load_baseline(),
            unread=tuple(self.load_unread()),
        )


def _iso(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)).astimezone(UTC)
    except ValueError:
        return None


def _flag_text(value: bool | None) -> str:
    """A switch that may be blank ($null), kept as "true", "false" or ""."""
    return "" if value is None else str(value).lower()


def _flag(value: object) -> bool | None:
    return {"true": True, "false": False}.get(str(value or ""))
