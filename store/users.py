"""The users table: one row per tracked user, written only when its content changed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from itertools import islice
from typing import Any

import orjson
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient

from core.bounds import bounded
from core.records import STATUSES, DeviceRecord, DirectoryUser, Evidence, Status, UserState, Verdict, capped
from store.tables import REPLACE, Operation, submit_in_batches, utc_datetime


class UserRepository:
    def __init__(self, table: TableClient, tenant_id: str) -> None:
        self._table = table
        self._tenant = tenant_id

    @property
    def table(self) -> TableClient:
        return self._table

    @property
    def tenant_id(self) -> str:
        return self._tenant

    def get(self, user_id: str) -> UserState | None:
        try:
            return from_entity(self._table.get_entity(self._tenant, user_id))
        except ResourceNotFoundError:
            return None

    def load_all(self) -> dict[str, UserState]:
        return {state.user_id: state for state in self.iter_all()}

    def iter_all(self, page_size: int = 1000) -> Iterator[UserState]:
        """Every tracked user in user-id order (the table's own order), a page at a time."""
        rows = self._table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": self._tenant}, results_per_page=page_size
        )
        return (from_entity(row) for row in rows)

    def query(self, status: str | None = None) -> list[UserState]:
        if status is None:
            return list(self.load_all().values())
        rows = self._table.query_entities(
            "PartitionKey eq @pk and Status eq @status", parameters={"pk": self._tenant, "status": status}
        )
        return [from_entity(row) for row in rows]

    def succeeded_since(self, since: datetime) -> list[UserState]:
        """Users still on legacy (or told and not yet verified) whose basic authentication last succeeded at or
        after ``since`` (few: today basic auth mostly fails), read by an OData filter, not the whole table."""
        rows = self._table.query_entities(
            # the SDK finds @names between spaces: "( ... )" keeps them apart from the brackets
            "PartitionKey eq @pk and ( Status eq @active or Status eq @told ) and LastSuccessAt ge @since",
            parameters={"pk": self._tenant, "active": "legacy_active", "told": "pending_verification", "since": since},
        )
        return [from_entity(row) for row in rows]

    def page_after(
        self, status: str | None, since: datetime | None, limit: int, after: str | None
    ) -> tuple[list[UserState], str | None]:
        """Up to ``limit`` users in id order after the user id ``after``, and the id to continue after (None
        at the end). Our own cursor, unlike the SDK's opaque token, can be checked: it is a user id."""
        query = "PartitionKey eq @pk"
        params: dict[str, Any] = {"pk": self._tenant}
        if after:
            query += " and RowKey gt @after"
            params["after"] = after
        if status:
            query += " and Status eq @status"
            params["status"] = status
        if since:
            query += " and LastLegacyAt ge @since"
            params["since"] = since
        rows = self._table.query_entities(query, parameters=params, results_per_page=min(limit + 1, 1000))
        states = [from_entity(row) for row in islice(rows, limit + 1)]  # one more: is there a next page?
        return states[:limit], (states[limit - 1].user_id if len(states) > limit else None)

    def save_changed(self, states: Iterable[UserState], before: Mapping[str, UserState]) -> int:
        """Upsert only states whose stored form differs from ``before``; returns rows written."""
        return self.write_if_changed((state, before.get(state.user_id)) for state in states)

    def write_if_changed(self, pairs: Iterable[tuple[UserState, UserState | None]]) -> int:
        """Write each new state whose stored form differs from its prior one (in batches, lazily).

        A new user is created (it fails if another run created it meanwhile) and a known one replaced."""

        def changed() -> Iterator[Operation]:
            for state, prior in pairs:
                entity = to_entity(self._tenant, state)
                if prior is None:
                    yield ("create", entity, {})
                elif to_entity(self._tenant, prior) != entity:
                    yield ("update", entity, REPLACE)

        return submit_in_batches(self._table, changed())


def to_entity(tenant_id: str, state: UserState) -> dict[str, Any]:
    """The row: every string cut to MAX_TEXT_CHARS (marked), the device list to what one property holds."""
    entity = _entity(tenant_id, state)
    for name, value in entity.items():
        if isinstance(value, str) and name not in _SIZED_ELSEWHERE:
            entity[name] = bounded(value)
    return entity


_SIZED_ELSEWHERE = frozenset(
    {"PartitionKey", "RowKey", "FailureCodes", "Protocols", "Agents", "Networks", "Countries", "Devices"}
)
"""Keys (checked when read from Graph), counts (16 keys, each cut at parse time) and the device list."""
MAX_PROPERTY_CHARS = 30000
"""Table Storage holds at most 32K characters (64 KiB) in one string property."""


def _entity(tenant_id: str, state: UserState) -> dict[str, Any]:
    ev = state.evidence
    user = state.directory
    return {
        "PartitionKey": tenant_id,
        "RowKey": state.user_id,
        "Upn": (user.upn if user else "") or ev.upn,
        "DisplayName": user.display_name if user else "",
        "Mail": (user.mail if user else None) or "",
        "PreferredLanguage": (user.preferred_language if user else None) or "",
        "UsageLocation": (user.usage_location if user else None) or "",
        "AccountEnabled": user.account_enabled if user else False,
        "UserType": user.user_type if user else "",
        "InDirectory": user is not None,
        "Status": state.verdict.status,
        "Reasons": " ".join(state.verdict.reasons),
        "Advice": " ".join(state.verdict.advice),
        "StatusSince": state.status_since,
        "RuleVersion": state.rule_version,
        "LegacySuccess": ev.legacy_success,
        "LegacyFailure": ev.legacy_failure,
        "FailureCodes": _json_counts(ev.failure_codes),
        "Protocols": _json_counts(ev.protocols),
        "FirstLegacyAt": ev.first_legacy_at,
        "LastLegacyAt": ev.last_legacy_at,
        "LastAppleAppAt": ev.last_apple_at,
        "LastSuccessAt": ev.last_success_at,
        "UserAgent": ev.user_agent,
        "DeviceOs": ev.device_os,
        "Agents": _json_counts(ev.agents),
        "Networks": _json_counts(ev.networks),
        "Countries": _json_counts(ev.countries),
        "Systems": _json_counts(ev.systems),
        "Hours": _json_counts(ev.hours),
        "CredentialFailures": ev.credential_failures,
        "SprayFailures": ev.spray_failures,
        "NotifiedCount": state.notified_count,
        "LastNotifiedAt": state.last_notified_at,
        "FirstNotifiedAt": state.first_notified_at,
        "Devices": _devices_json(state.devices),
        "Window": state.applied_window,
        "Episode": state.episode,
        "MailboxType": state.mailbox_type,
    }


MAX_EPISODE = 1_000
"""A user back on legacy more often than this is read as a first episode (a hostile or damaged row)."""

MAX_DEVICES = 20
"""Partnerships kept per user row (a mailbox rarely has more; debris beyond this is dropped)."""


def _devices_json(devices: tuple[DeviceRecord, ...]) -> str:
    """Up to MAX_DEVICES partnerships, fewer if their text would not fit in one property."""
    kept = [_device_json(d) for d in devices[:MAX_DEVICES]]
    while len(text := orjson.dumps(kept).decode()) > MAX_PROPERTY_CHARS:
        kept.pop()
    return text


def _device_json(device: DeviceRecord) -> dict[str, Any]:
    return {
        "id": bounded(device.device_id),
        "name": bounded(device.friendly_name),
        "os": bounded(device.device_os),
        "type": bounded(device.device_type),
        "model": bounded(device.device_model),
        "agent": bounded(device.user_agent),
        "client": bounded(device.client_type),
        "version": bounded(device.client_version),
        "first": device.first_sync.isoformat() if device.first_sync else None,
        "last": device.last_sync.isoformat() if device.last_sync else None,
        "access": bounded(device.access_state),
    }


def _devices(user_id: str, raw: Any) -> tuple[DeviceRecord, ...]:
    items = orjson.loads(raw) if raw else []
    return tuple(
        DeviceRecord(
            user_id=user_id,
            device_id=d.get("id") or "",
            friendly_name=d.get("name") or "",
            device_os=d.get("os") or "",
            device_type=d.get("type") or "",
            device_model=d.get("model") or "",
            user_agent=d.get("agent") or "",
            client_type=d.get("client") or "",
            client_version=d.get("version") or "",
            first_sync=datetime.fromisoformat(d["first"]) if d.get("first") else None,
            last_sync=datetime.fromisoformat(d["last"]) if d.get("last") else None,
            access_state=d.get("access") or "",
        )
        for d in items
        if isinstance(d, dict)
    )


def from_entity(row: Mapping[str, Any]) -> UserState:
    status = row.get("Status")
    if status not in STATUSES:
        raise ValueError(f"users row {row.get('RowKey')!r}: unknown Status {status!r}")
    evidence = Evidence(
        upn=row.get("Upn") or "",
        legacy_success=int(row.get("LegacySuccess") or 0),
        legacy_failure=int(row.get("LegacyFailure") or 0),
        failure_codes=_counts(row.get("FailureCodes")),
        protocols=_counts(row.get("Protocols")),
        first_legacy_at=utc_datetime(row.get("FirstLegacyAt")),
        last_legacy_at=utc_datetime(row.get("LastLegacyAt")),
        last_apple_at=utc_datetime(row.get("LastAppleAppAt")),
        last_success_at=utc_datetime(row.get("LastSuccessAt")),
        user_agent=row.get("UserAgent") or "",
        device_os=row.get("DeviceOs") or "",
        agents=_counts(row.get("Agents")),
        networks=_counts(row.get("Networks")),
        countries=_counts(row.get("Countries")),
        systems=_counts(row.get("Systems")),
        hours=_counts(row.get("Hours")),
        credential_failures=int(row.get("CredentialFailures") or 0),
        spray_failures=int(row.get("SprayFailures") or 0),
    )
    directory = None
    if row.get("InDirectory"):
        directory = DirectoryUser(
            id=row["RowKey"],
            upn=row.get("Upn") or "",
            display_name=row.get("DisplayName") or "",
            mail=row.get("Mail") or None,
            preferred_language=row.get("PreferredLanguage") or None,
            usage_location=row.get("UsageLocation") or None,
            account_enabled=bool(row.get("AccountEnabled")),
            user_type=row.get("UserType") or "Member",
        )
    status_since = utc_datetime(row.get("StatusSince"))
    if status_since is None:
        raise ValueError(f"users row {row.get('RowKey')!r}: StatusSince is missing")
    return UserState(
        user_id=row["RowKey"],
        evidence=evidence,
        verdict=Verdict(
            status=_status(status),
            reasons=tuple((row.get("Reasons") or "").split()),
            advice=tuple((row.get("Advice") or "").split()),
        ),
        rule_version=row.get("RuleVersion") or "",
        status_since=status_since,
        directory=directory,
        notified_count=int(row.get("NotifiedCount") or 0),
        last_notified_at=utc_datetime(row.get("LastNotifiedAt")),
        first_notified_at=utc_datetime(row.get("FirstNotifiedAt")),
        devices=_devices(row["RowKey"], row.get("Devices")),
        applied_window=row.get("Window") or "",
        episode=_episode(row.get("Episode")),
        mailbox_type=row.get("MailboxType") or "",
    )


def _episode(value: Any) -> int:
    """Rows written before episodes were kept are the user's first; an odd value counts as one too."""
    return value if isinstance(value, int) and 1 <= value <= MAX_EPISODE else 1


def _status(value: Any) -> Status:
    return next(s for s in STATUSES if s == value)


def _json_counts(counts: dict[str, int]) -> str:
    """Sorted, capped JSON: the same counts always serialise the same way, so unchanged rows compare equal."""
    return orjson.dumps(capped(counts), option=orjson.OPT_SORT_KEYS).decode()


def _counts(raw: Any) -> dict[str, int]:
    if not raw:
        return {}
    data = orjson.loads(raw)
    return {str(k): int(v) for k, v in data.items()} if isinstance(data, dict) else {}
