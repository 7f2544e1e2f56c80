"""One settings object, read once from the environment and validated with errors that name the setting."""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, TypeVar, cast
from urllib.parse import urlsplit

from core.config import MessagePolicy, RuleConfig
from core.constants import AUTHENTICATED_SMTP, EXCHANGE_ACTIVESYNC, LEGACY_CLIENT_APPS

GraphAuth = Literal["managed-identity", "default", "none"]
NotifyMode = Literal["off", "dry-run", "live"]

GRAPH_AUTH_MODES: tuple[GraphAuth, ...] = ("managed-identity", "default", "none")
NOTIFY_MODES: tuple[NotifyMode, ...] = ("off", "dry-run", "live")
SIGNINS_API_VERSIONS = ("beta", "v1.0")

SCHEDULE_SETTINGS: dict[str, str] = {
    "LAM_COLLECT_SCHEDULE": "0 */30 * * * *",
    "LAM_APPLE_CHECK_SCHEDULE": "0 15 */6 * * *",
    "LAM_NOTIFY_SCHEDULE": "0 0 8-17 * * 1-5",
    "LAM_DIGEST_SCHEDULE": "0 0 7 * * *",
}
"""NCRONTAB schedules the Functions host reads as %NAME% (UTC); ours to document, not to parse."""

LOCAL_ONLY_SETTINGS = frozenset({"LAM_TABLES_CONNECTION_STRING", "LAM_ACS_KEY"})
"""Secrets for the local stack (Azurite, the simulator). A deployment never sets them: in Azure the
managed identity reaches the tables and ACS, and infra/ is tested to leave these out."""

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}

T = TypeVar("T")
N = TypeVar("N", int, float)


class SettingsError(ValueError):
    """Raised when one or more settings are missing or wrong; the message names each of them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid settings:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class Settings:
    """Every setting of one deployment. Defaults live here and in core/config.py, nowhere else."""

    tenant_id: str
    graph_base_url: str = "https://graph.microsoft.com"
    signins_api_version: str = "beta"
    graph_auth: GraphAuth = "managed-identity"
    managed_identity_client_id: str | None = None
    tables_connection_string: str | None = field(default=None, repr=False)
    tables_endpoint: str | None = None
    acs_endpoint: str | None = None
    acs_key: str | None = field(default=None, repr=False)
    sender_address: str | None = None
    notify_mode: NotifyMode = "dry-run"
    outbox_dir: Path = Path("outbox")
    lookback_days: int = 30
    overlap_minutes: int = 15
    legacy_protocols: tuple[str, ...] = (EXCHANGE_ACTIVESYNC, AUTHENTICATED_SMTP)
    rules: RuleConfig = field(default_factory=RuleConfig)
    messages: MessagePolicy = field(default_factory=MessagePolicy)
    digest_recipients: tuple[str, ...] = ()
    digest_send_empty: bool = False
    collect_devices: bool = False
    exo_base_url: str = "https://outlook.office365.com"
    exo_organization: str | None = None
    """The tenant's initial domain (contoso.onmicrosoft.com), for Exchange's anchor mailbox header."""
    signins_rate_limit: tuple[int, float] = (5, 10.0)
    """Sign-in log requests per window of seconds: Graph's reports limit is 5 per 10 s per tenant."""
    graph_max_retries: int = 5
    graph_max_retry_after_seconds: float = 300.0
    """The longest Retry-After obeyed (a longer one is cut to this; the run's deadline cuts it further)."""
    graph_timeout_seconds: float = 120.0
    collect_max_seconds: int = 1500
    """How long one collect run reads before it saves its place and leaves the rest to the next run."""
    checkpoint_pages: int = 50
    """Pages between two checkpoints of an open window (cursor + partial aggregates)."""

    @property
    def graph_is_loopback(self) -> bool:
        return is_loopback_url(self.graph_base_url)


def _field_defaults(*kinds: type[Any]) -> dict[str, Any]:
    return {f.name: f.default for kind in kinds for f in fields(kind) if f.default is not MISSING}


_DEFAULTS = _field_defaults(Settings, RuleConfig, MessagePolicy)


def is_loopback_url(url: str) -> bool:
    return (urlsplit(url).hostname or "") in _LOOPBACK_HOSTS


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read every LAM_* setting from ``env`` (default: the process environment) and validate them all."""
    source = os.environ if env is None else env
    reader = _Reader(source)
    opt = reader.setting
    tenant_id = reader.required("LAM_TENANT_ID", _guid)
    graph_base_url = opt("LAM_GRAPH_BASE_URL", _service_url)
    graph_auth = opt("LAM_GRAPH_AUTH", _choice(GRAPH_AUTH_MODES))
    if graph_auth == "none" and "LAM_GRAPH_BASE_URL" not in reader.bad and not is_loopback_url(graph_base_url):
        reader.problems.append(
            "LAM_GRAPH_AUTH: 'none' sends no token and is only allowed with a loopback "
            f"LAM_GRAPH_BASE_URL (got {graph_base_url!r})"
        )
    connection_string = reader.secret("LAM_TABLES_CONNECTION_STRING", _connection_string_problem)
    tables_endpoint = opt("LAM_TABLES_ENDPOINT", _service_url)
    if connection_string and tables_endpoint:
        reader.problems.append(
            "LAM_TABLES_CONNECTION_STRING / LAM_TABLES_ENDPOINT: set only one of them "
            "(the endpoint uses the managed identity)"
        )
    elif (
        not connection_string
        and not tables_endpoint
        and not {"LAM_TABLES_ENDPOINT", "LAM_TABLES_CONNECTION_STRING"} & reader.bad
    ):
        reader.problems.append(
            "LAM_TABLES_CONNECTION_STRING / LAM_TABLES_ENDPOINT: one of them is required "
            "(a connection string for Azurite, or the table endpoint for the managed identity)"
        )
    notify_mode = opt("LAM_NOTIFY_MODE", _choice(NOTIFY_MODES))
    acs_endpoint = opt("LAM_ACS_ENDPOINT", _service_url)
    acs_key = reader.secret("LAM_ACS_KEY", _acs_key_problem)
    sender = opt("LAM_SENDER_ADDRESS", _email)
    if notify_mode == "live" and not acs_endpoint and "LAM_ACS_ENDPOINT" not in reader.bad:
        reader.problems.append("LAM_ACS_ENDPOINT: required when LAM_NOTIFY_MODE is 'live'")
    if notify_mode in ("live", "dry-run") and not sender and "LAM_SENDER_ADDRESS" not in reader.bad:
        reader.problems.append(f"LAM_SENDER_ADDRESS: required when LAM_NOTIFY_MODE is {notify_mode!r}")
    collect_devices = opt("LAM_COLLECT_DEVICES", _bool)
    exo_organization = opt("LAM_EXO_ORGANIZATION", _domain)
    if collect_devices and not exo_organization and "LAM_EXO_ORGANIZATION" not in reader.bad:
        reader.problems.append(
            "LAM_EXO_ORGANIZATION: required when LAM_COLLECT_DEVICES is true (the initial domain, "
            "e.g. contoso.onmicrosoft.com)"
        )
    settings = Settings(
        tenant_id=tenant_id or "",
        graph_base_url=graph_base_url,
        signins_api_version=opt("LAM_SIGNINS_API_VERSION", _choice(SIGNINS_API_VERSIONS)),
        graph_auth=cast(GraphAuth, graph_auth),
        managed_identity_client_id=opt("LAM_MANAGED_IDENTITY_CLIENT_ID", _guid),
        tables_connection_string=connection_string,
        tables_endpoint=tables_endpoint,
        acs_endpoint=acs_endpoint,
        acs_key=acs_key,
        sender_address=sender,
        notify_mode=cast(NotifyMode, notify_mode),
        outbox_dir=Path(opt("LAM_OUTBOX_DIR", _nonempty)),
        lookback_days=opt("LAM_LOOKBACK_DAYS", _int_between(1, 30)),
        overlap_minutes=opt("LAM_OVERLAP_MINUTES", _int_between(0, 1440)),
        legacy_protocols=opt("LAM_LEGACY_PROTOCOLS", _protocols),
        rules=RuleConfig(
            stale_days=opt("LAM_STALE_DAYS", _int_between(1, 3650)),
            remediation_quiet_hours=opt("LAM_REMEDIATION_QUIET_HOURS", _int_between(1, 720)),
            spray_min_accounts=opt("LAM_SPRAY_MIN_ACCOUNTS", _int_between(2, 10000)),
            device_min_attempts=opt("LAM_DEVICE_MIN_ATTEMPTS", _int_between(1, 1000)),
            device_max_networks=opt("LAM_DEVICE_MAX_NETWORKS", _int_between(1, 100)),
            excluded_upns=opt("LAM_EXCLUDED_UPNS", _upn_list),
        ),
        messages=MessagePolicy(
            contact_line=opt("LAM_CONTACT_LINE", _nonempty),
            default_locale=opt("LAM_DEFAULT_LOCALE", _language),
            reminder_days=opt("LAM_REMINDER_DAYS", _day_list),
            allowed_recipients=opt("LAM_ALLOWED_RECIPIENTS", _recipient_list),
            send_per_minute=opt("LAM_SEND_PER_MINUTE", _int_between(1, 1000)),
            send_per_hour=opt("LAM_SEND_PER_HOUR", _int_between(1, 100000)),
            notify_max_seconds=opt("LAM_NOTIFY_MAX_SECONDS", _int_between(0, 3600)),
            send_confirmation=opt("LAM_SEND_CONFIRMATION", _bool),
            sender_owners=opt("LAM_SENDER_OWNERS", _owner_map),
        ),
        digest_recipients=opt("LAM_DIGEST_RECIPIENTS", _address_list),
        digest_send_empty=opt("LAM_DIGEST_SEND_EMPTY", _bool),
        collect_devices=collect_devices,
        exo_base_url=opt("LAM_EXO_BASE_URL", _service_url),
        exo_organization=exo_organization,
        signins_rate_limit=opt("LAM_SIGNINS_RATE_LIMIT", parse_rate),
        graph_max_retries=opt("LAM_GRAPH_MAX_RETRIES", _int_between(0, 20)),
        graph_max_retry_after_seconds=opt("LAM_GRAPH_MAX_RETRY_AFTER_SECONDS", _seconds_between(0, 3600)),
        graph_timeout_seconds=opt("LAM_GRAPH_TIMEOUT_SECONDS", _seconds_between(0.1, 600)),
        collect_max_seconds=opt("LAM_COLLECT_MAX_SECONDS", _int_between(1, 86400)),
        checkpoint_pages=opt("LAM_CHECKPOINT_PAGES", _int_between(1, 1000)),
    )
    if reader.problems:
        raise SettingsError(reader.problems)
    return settings


class _Reader:
    """Collects every problem instead of stopping at the first, so one run shows them all."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []
        self.bad: set[str] = set()

    def _raw(self, name: str) -> str | None:
        value = self.env.get(name)
        if value is None or not value.strip():
            return None
        return value.strip()

    def required(self, name: str, parse: Callable[[str], T]) -> T | None:
        raw = self._raw(name)
        if raw is None:
            self.problems.append(f"{name}: required but not set")
            self.bad.add(name)
            return None
        return self._parse(name, raw, parse)

    def setting(self, name: str, parse: Callable[[str], T]) -> T:
        """LAM_FOO_BAR, parsed; unset or wrong, the default of the field foo_bar (where it is written)."""
        default = cast(T, _DEFAULTS[name.removeprefix("LAM_").lower()])
        raw = self._raw(name)
        if raw is None:
            return default
        parsed = self._parse(name, raw, parse)
        return default if parsed is None else parsed

    def secret(self, name: str, check: Callable[[str], str] | None = None) -> str | None:
        """A secret: like any setting, but a problem is reported without its value (logs keep errors)."""
        raw = self._raw(name)
        problem = check(raw) if raw is not None and check is not None else ""
        if problem:
            self.problems.append(f"{name}: {problem} (the value is not shown: it is a secret)")
            self.bad.add(name)
            return None
        return raw

    def _parse(self, name: str, raw: str, parse: Callable[[str], T]) -> T | None:
        try:
            return parse(raw)
        except ValueError as exc:
            self.problems.append(f"{name}: {exc} (got {raw!r})")
            self.bad.add(name)
            return None


def _guid(raw: str) -> str:
    if not _GUID.match(raw):
        raise ValueError("must be a GUID like 00000000-0000-0000-0000-000000000000")
    return raw.lower()


def _service_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an absolute https:// URL")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is asked for it
    except ValueError:
        raise ValueError("the port must be a number from 0 to 65535") from None
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise ValueError("plain http is only allowed for loopback addresses; use https://")
    if parts.query or parts.fragment:
        raise ValueError("must not carry a query string or fragment")
    return raw.rstrip("/")


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in options:
            raise ValueError("must be one of " + ", ".join(repr(o) for o in options))
        return raw

    return parse


def _int_between(low: int, high: int) -> Callable[[str], int]:
    return _between(int, low, high, "a whole number", "")


def _seconds_between(low: float, high: float) -> Callable[[str], float]:
    return _between(float, low, high, "a number of seconds", " seconds")


def _between(convert: Callable[[str], N], low: N, high: N, what: str, unit: str) -> Callable[[str], N]:
    def parse(raw: str) -> N:
        try:
            value = convert(raw)
        except ValueError:
            raise ValueError(f"must be {what} from {_shown(low)} to {_shown(high)}") from None
        if not low <= value <= high:
            raise ValueError(f"must be from {_shown(low)} to {_shown(high)}{unit}")
        return value

    return parse


def _shown(number: float) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)


def parse_rate(raw: str) -> tuple[int, float]:
    """'5/10s': requests per window of seconds."""
    match = re.fullmatch(r"(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*s", raw.strip())
    if not match or int(match[1]) < 1 or float(match[2]) <= 0:
        raise ValueError("must be requests per seconds, like 5/10s (Graph's limit for sign-in logs)")
    return int(match[1]), float(match[2])


def _email(raw: str) -> str:
    if not _EMAIL.match(raw):
        raise ValueError("must be an email address like DoNotReply@contoso.com")
    return raw


def _language(raw: str) -> str:
    if not re.match(r"^[a-z]{2}$", raw):
        raise ValueError("must be a two-letter language code such as en or de")
    return raw


def _day_list(raw: str) -> tuple[int, ...]:
    try:
        days = tuple(int(item) for item in raw.split(",") if item.strip())
    except ValueError:
        raise ValueError("must be whole days separated by commas, e.g. 3,7") from None
    if any(d < 1 for d in days) or list(days) != sorted(set(days)):
        raise ValueError("days must be positive and increasing, e.g. 3,7")
    return days


def _address_list(raw: str) -> tuple[str, ...]:
    items = tuple(item.strip() for item in raw.split(",") if item.strip())
    wrong = [i for i in items if not _EMAIL.match(i)]
    if wrong:
        raise ValueError(f"each entry must be an email address; not: {', '.join(wrong)}")
    return items


def _recipient_list(raw: str) -> frozenset[str]:
    items = [item.strip().casefold() for item in raw.split(",") if item.strip()]
    wrong = [i for i in items if not (i.startswith("@") and "." in i) and not _EMAIL.match(i)]
    if wrong:
        raise ValueError(f"each entry must be an address or an @domain; not: {', '.join(wrong)}")
    return frozenset(items)


def _bool(raw: str) -> bool:
    if raw.casefold() not in ("true", "false"):
        raise ValueError("must be true or false")
    return raw.casefold() == "true"


def _domain(raw: str) -> str:
    if not re.match(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$", raw):
        raise ValueError("must be a domain name like contoso.onmicrosoft.com")
    return raw.lower()


def _nonempty(raw: str) -> str:
    return raw


def _owner_map(raw: str) -> tuple[tuple[str, str], ...]:
    """ "scanner@contoso.example=facilities@contoso.example, app@...=dev@..." → (UPN, owner) pairs."""
    pairs: dict[str, str] = {}
    wrong: list[str] = []
    for item in (part.strip() for part in raw.split(",")):
        upn, _, owner = item.partition("=")
        if not item:
            continue
        upn, owner = upn.strip(), owner.strip()
        if "@" not in upn or not _EMAIL.match(owner) or upn.casefold() == owner.casefold():
            wrong.append(item)
            continue
        pairs[upn.casefold()] = owner
    if wrong:
        raise ValueError(f"each entry must be sender-upn=owner-address (another mailbox); not: {', '.join(wrong)}")
    return tuple(sorted(pairs.items()))


def _upn_list(raw: str) -> frozenset[str]:
    items = [item.strip() for item in raw.split(",") if item.strip()]
    wrong = [item for item in items if "@" not in item]
    if wrong:
        raise ValueError(f"each entry must be a user principal name (name@domain); not: {', '.join(wrong)}")
    return frozenset(item.casefold() for item in items)


def _protocols(raw: str) -> tuple[str, ...]:
    items = [item.strip() for item in raw.split(",") if item.strip()]
    unknown = [item for item in items if item.casefold() not in LEGACY_CLIENT_APPS]
    if unknown or not items:
        raise ValueError(
            "each entry must be a legacy clientAppUsed value such as 'Exchange ActiveSync' or 'IMAP4'"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        )
    return tuple(items)


CONNECTION_STRING_KEYS = frozenset(
    {
        "defaultendpointsprotocol", "accountname", "accountkey", "endpointsuffix", "sharedaccesssignature",
        "tableendpoint", "blobendpoint", "queueendpoint", "fileendpoint", "tablesecondaryendpoint",
        "blobsecondaryendpoint", "queuesecondaryendpoint", "filesecondaryendpoint",
        "usedevelopmentstorage", "developmentstorageproxyuri",
    }
)  # fmt: skip
"""The keys of an Azure Storage connection string (Microsoft Learn: "Configure Azure Storage connection strings")."""


def connection_string_keys(raw: str) -> dict[str, str]:
    """A storage connection string's values by key, the keys case-folded (the SDK reads them so)."""
    return {key.strip().casefold(): value.strip() for key, _, value in _pairs(raw)}


def _pairs(raw: str) -> list[tuple[str, str, str]]:
    return [part.partition("=") for part in raw.split(";") if part.strip()]


def _connection_string_problem(raw: str) -> str:
    """Why this is not a storage connection string (empty: it looks like one), naming keys, never values."""
    if any(not sep or not key.strip() for key, sep, _ in _pairs(raw)):
        return "must be a storage connection string of Key=Value pairs separated by ';'"
    keys = connection_string_keys(raw)
    unknown = sorted(set(keys) - CONNECTION_STRING_KEYS)
    if unknown:
        return f"unknown connection string key(s): {', '.join(unknown)}"
    if keys.get("usedevelopmentstorage", "").casefold() == "true":
        return ""
    if "accountname" in keys and "accountkey" in keys:
        return "" if _is_base64(keys["accountkey"]) else "AccountKey must be the base64 account key"
    if "sharedaccesssignature" in keys and "tableendpoint" in keys:
        return ""
    return "needs AccountName and AccountKey, TableEndpoint and SharedAccessSignature, or UseDevelopmentStorage=true"


def _acs_key_problem(raw: str) -> str:
    return "" if _is_base64(raw) else "must be the base64 access key of the Communication Services resource"


def _is_base64(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True
