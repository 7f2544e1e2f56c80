"""Reason codes and tenant findings as data: the rules emit only codes they declare, each with metadata.

Pure: no servers. How each test fails if a rule emitted a code it does not declare:

- a verdict rule (``legacy_activity.classify``, ``exclusion.exclusion_reasons``, ``devices.judge_device``,
  ``advice.advice_for``, or a literal in ``status.evaluate``): ``test_every_code_evaluate_emits_is_declared``
  lists each undeclared code with the rule (or verdict status) that emitted it and the input that did;
  the golden corpus replay fails the same way for the inputs of ``tests/test_verdicts_golden.py``;
- a code moved from one rule to another without moving its declaration: the same tests name the rule;
- a tenant finding under a new name: ``readiness.finding`` raises KeyError for a name not in the catalog,
  and a ``Finding`` built around it is caught by ``test_every_tenant_finding_is_in_the_catalog``, which also
  checks each finding carries its catalog severity and link;
- a declared code that no input reaches (dead, or missing from the grids): the coverage tests fail.
"""

from __future__ import annotations

import inspect
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest

from core.config import RuleConfig
from core.findings import SEVERITIES, AttackFinding, DeviceFinding, SenderSetup, Severity, TenantSnapshot
from core.ingest import UnreadSpan
from core.records import (
    AppleAppStatus,
    ConsentPolicy,
    Delta,
    DeviceRecord,
    DirectoryUser,
    Evidence,
    LegacyBlockPolicy,
    Status,
    UserState,
    Verdict,
)
from rules import (
    advice,
    catalog,
    devices,
    exclusion,
    legacy_activity,
    mailbox_clients,
    protocols,
    readiness,
    remediation,
    retirements,
    senders,
    staleness,
    status,
    switches,
)
from rules.rule import Reason, Rule
from rules.user_agent import parse_user_agent

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CONFIG = RuleConfig(excluded_upns=frozenset({"room@contoso.example"}))
CONFIGS = (
    CONFIG,
    RuleConfig(stale_days=1, remediation_quiet_hours=0, excluded_upns=CONFIG.excluded_upns),
    RuleConfig(device_min_attempts=1, device_max_networks=0, remediation_quiet_hours=72),
)
CODE = re.compile(r"^[a-z][a-z0-9_]*[a-z0-9]$")

EMITTERS: dict[Status, tuple[Rule, ...]] = {
    "excluded": (exclusion.RULE,),
    "stale": (staleness.RULE, devices.RULE),  # an SMTP AUTH sender goes stale with staleness's code
    "remediated": (remediation.RULE, senders.RULE, mailbox_clients.RULE),
    "pending_verification": (remediation.RULE, senders.RULE, mailbox_clients.RULE),
    "legacy_active": (legacy_activity.RULE, devices.RULE, senders.RULE, mailbox_clients.RULE),
    # A legacy partnership behind failures that look like an attack makes the user legacy_active (status@2).
    "attack_suspected": (legacy_activity.RULE, senders.RULE),
}
"""The rules whose codes each status's reasons may carry (advice codes come from the advice rule, and for an
account seen on SMTP AUTH alone from the SMTP senders rule, for a device or application on IMAP4, POP3 or EWS
from mailbox_clients)."""
ADVISERS = (advice.RULE, senders.RULE, mailbox_clients.RULE)

MAIL_AGENTS = (
    "Apple-iPhone14C2/2004.47",  # iOS 16
    "Apple-iPhone8C1/1502.1",  # iOS 11
    "Apple-iPhone12C1/1906.1",  # iOS 15.5
    "Apple-iPhone12C1/1907.71",  # iOS 15.6
    "Apple-iPad7C3/1702.112",  # iPadOS 13
    "Apple-iPhone/9901.1",  # Apple, iOS version unknown
    "Apple-MacBook/2206.1",
    "Android-SAMSUNG-SM-G991B/102.60101",
    "Apple-iPhone4C1/1306.69",  # iPhone 4s on iOS 9: the hardware stops at 9.3.6
    "Mac OS X/10.8.2 (12C2034); ExchangeWebServices/3.0 (157); Mail/6.2 (1499)",  # macOS Mail over EWS
)
OTHER_AGENTS = ("BAV2ROPC", "", "Outlook-iOS/4.2", "python-requests/2.31")

ALICE = DirectoryUser(id="u1", upn="alice@contoso.example", display_name="Alice", mail="alice@contoso.example")
USERS: tuple[DirectoryUser | None, ...] = (
    None,
    ALICE,
    DirectoryUser(id="u1", upn="room@contoso.example", display_name="Room", mail="room@contoso.example"),
    DirectoryUser(id="u1", upn="ROOM@contoso.example", display_name="Room", mail=None, account_enabled=False),
    DirectoryUser(id="u1", upn="a@contoso.example", display_name="A", mail="a@contoso.example", account_enabled=False),
    DirectoryUser(id="u1", upn="g#EXT#@contoso.example", display_name="G", mail="g@f.example", user_type="Guest"),
    DirectoryUser(id="u1", upn="n@contoso.example", display_name="N", mail=None, user_type="guest"),
)


def device(
    *, apple: bool = True, first: datetime | None, last: datetime | None, version: str = "16.1", client: str = "EAS"
) -> DeviceRecord:
    return DeviceRecord(
        user_id="u1",
        device_id=f"d-{apple}-{first}-{last}-{version}-{client}",
        friendly_name="iPhone 8" if apple else "Galaxy",
        device_os="iOS 16.1" if apple else "Android 9",
        device_type="iPhone" if apple else "SAMSUNGSMG991B",
        user_agent="Apple-iPhone14C2/2004.47" if apple else "Android-SAMSUNG-SM-G991B/102.60101",
        client_type=client,
        client_version=version,
        first_sync=first,
        last_sync=last,
    )


OLD = datetime(2017, 3, 2, tzinfo=UTC)
IOS12 = datetime(2018, 9, 17, tzinfo=UTC)
NEW = datetime(2021, 5, 1, tzinfo=UTC)
DEVICE_SETS: tuple[tuple[DeviceRecord, ...], ...] = (
    (),
    (device(first=OLD, last=NOW - timedelta(hours=2)),),  # pre-iOS 12 profile, syncing
    (device(first=IOS12 - timedelta(seconds=1), last=NOW - timedelta(days=30)),),  # synced a month ago
    (device(first=IOS12, last=NOW - timedelta(hours=1)),),  # first synced the day iOS 12 shipped: fine
    (device(apple=False, first=NEW, last=NOW - timedelta(hours=3), version="14.1"),),  # old EAS protocol
    (device(first=OLD, last=NOW - timedelta(hours=1), version="12.1"),),  # both problems
    (device(first=OLD, last=NOW - timedelta(days=90)),),  # obsolete
    (device(first=OLD, last=NOW - timedelta(days=90)), device(first=NEW, last=NOW - timedelta(hours=1))),
    (device(first=None, last=None, version=""),),
    (device(first=OLD, last=NOW - timedelta(hours=1), client="Outlook"),),
    (device(first=OLD, last=NOW - timedelta(hours=2)), device(apple=False, first=NEW, last=NOW, version="2.5")),
)


@dataclass(frozen=True)
class Case:
    evidence: Evidence
    user: DirectoryUser | None
    config: RuleConfig
    devices: tuple[DeviceRecord, ...]
    told: datetime | None = None
    """When the user (or an SMTP AUTH sender's owner) was first emailed."""
    mailbox_type: str = ""
    """Exchange's RecipientTypeDetails of the account's mailbox, when not a user's own."""


def make_evidence(
    *,
    success: int,
    failure: int,
    credential: int = 0,
    spray: int = 0,
    agents: dict[str, int] | None = None,
    networks: int = 1,
    countries: tuple[str, ...] = (),
    last_legacy: datetime | None = None,
    last_apple: datetime | None = None,
    upn: str = "alice@contoso.example",
    protocol: str = "Exchange ActiveSync",
    hours: int = 3,
) -> Evidence:
    total = success + failure
    agent = next(iter(agents)) if agents else ""
    return Evidence(
        upn=upn,
        legacy_success=success,
        legacy_failure=failure,
        failure_codes={"50126": credential, "53003": failure - credential} if failure else {},
        protocols={protocol: total} if total else {},
        first_legacy_at=last_legacy - timedelta(days=1) if last_legacy else None,
        last_legacy_at=last_legacy,
        last_apple_at=last_apple,
        user_agent=agent,
        agents=dict(agents or {}),
        networks={f"198.51.{n}.0/24": 1 for n in range(networks)} if total else {},
        countries={c: 1 for c in countries},
        systems={"Ios / Mobile Safari": total} if total and not agent else {},
        hours={f"2026-11-{10 + h:02d}T08": 1 for h in range(min(total, hours))},
        credential_failures=credential,
        spray_failures=spray,
    )


def failure_mixes(failure: int) -> Iterator[tuple[int, int]]:
    """(credential failures, spray failures) for a failure count: none, all, and in between."""
    for credential in sorted({0, min(1, failure), failure}):
        for spray in sorted({0, min(1, credential), credential}):
            yield credential, spray


def agent_mixes(total: int) -> Iterator[dict[str, int]]:
    for agent in (*MAIL_AGENTS, *OTHER_AGENTS):
        yield {agent: total}
        if total > 1:
            yield {agent: 1, "BAV2ROPC": total - 1}


def activity_cases() -> Iterator[Case]:
    """What legacy_activity and advice judge: outcomes, wrong passwords, spray, agents, networks, countries."""
    countries = ((), ("NL",), ("NL", "RU"), ("unknown", "NL"), ("unknown",))
    for success, failure in itertools.product((0, 1, 3), (0, 1, 2, 6)):
        if success + failure == 0:
            continue
        for (credential, spray), agents, networks, where, apple, devices_ in itertools.product(
            failure_mixes(failure),
            agent_mixes(success + failure),
            (1, 3, 5),
            countries,
            (None, NOW - timedelta(days=3)),
            (DEVICE_SETS[0], DEVICE_SETS[1]),
        ):
            evidence = make_evidence(
                success=success,
                failure=failure,
                credential=credential,
                spray=spray,
                agents=agents,
                networks=networks,
                countries=where,
                last_legacy=NOW - timedelta(hours=1),
                last_apple=apple,
            )
            yield Case(evidence, ALICE, CONFIG, devices_)


def timing_cases() -> Iterator[Case]:
    """What staleness, remediation and the device rule judge: ages around the windows, partnerships."""
    ages = (
        timedelta(hours=1),
        timedelta(hours=23, minutes=59),
        timedelta(hours=24),
        timedelta(hours=25),
        timedelta(days=59),
        timedelta(days=60),
        timedelta(days=60, seconds=1),
        timedelta(days=120),
    )
    apple_offsets = (None, timedelta(hours=-1), timedelta(seconds=0), timedelta(minutes=10), timedelta(days=2))
    signals: tuple[Callable[[datetime, datetime | None], Evidence], ...] = (
        lambda legacy, apple: make_evidence(
            success=2, failure=0, agents={MAIL_AGENTS[0]: 2}, last_legacy=legacy, last_apple=apple
        ),
        lambda legacy, apple: make_evidence(
            success=0, failure=3, agents={MAIL_AGENTS[1]: 3}, last_legacy=legacy, last_apple=apple
        ),
        lambda legacy, apple: make_evidence(
            success=0,
            failure=6,
            credential=6,
            spray=6,
            agents={"BAV2ROPC": 6},
            networks=5,
            last_legacy=legacy,
            last_apple=apple,
        ),
        lambda legacy, apple: make_evidence(
            success=0, failure=1, agents={MAIL_AGENTS[6]: 1}, last_legacy=legacy, last_apple=apple
        ),
    )
    for config, devices_ in itertools.product(CONFIGS, DEVICE_SETS):
        for apple in (None, NOW - timedelta(hours=2), NOW - timedelta(days=200)):
            yield Case(make_evidence(success=0, failure=0, last_apple=apple), ALICE, config, devices_)
        for signal, age, offset in itertools.product(signals, ages, apple_offsets):
            last_legacy = NOW - age
            last_apple = None if offset is None else last_legacy + offset
            yield Case(signal(last_legacy, last_apple), ALICE, config, devices_)


def exclusion_cases() -> Iterator[Case]:
    evidences = (
        make_evidence(success=3, failure=0, agents={MAIL_AGENTS[0]: 3}, last_legacy=NOW - timedelta(hours=1)),
        make_evidence(success=0, failure=6, credential=6, spray=6, agents={"BAV2ROPC": 6}, last_legacy=NOW),
        make_evidence(success=1, failure=0, last_legacy=NOW - timedelta(days=90), upn="ROOM@contoso.example"),
        make_evidence(success=0, failure=0, upn=""),
    )
    for user, evidence, devices_ in itertools.product(USERS, evidences, DEVICE_SETS[:2]):
        yield Case(evidence, user, CONFIG, devices_)


def smtp_cases(protocol: str = "Authenticated SMTP") -> Iterator[Case]:
    """What the SMTP senders rule judges: accounts seen on Authenticated SMTP alone (or, for mailbox_clients,
    on IMAP4, POP3 or EWS alone)."""
    for success, failure in itertools.product((0, 1, 40), (0, 2, 6)):
        if success + failure == 0:
            continue
        for (credential, spray), agents, networks, hours, age, told in itertools.product(
            failure_mixes(failure),
            agent_mixes(success + failure),
            (1, 5),
            (1, 3),
            (timedelta(hours=1), timedelta(days=3), timedelta(days=90)),
            (None, NOW - timedelta(minutes=30), NOW - timedelta(hours=48)),
        ):
            evidence = make_evidence(
                success=success,
                failure=failure,
                credential=credential,
                spray=spray,
                agents=agents,
                networks=networks,
                last_legacy=NOW - age,
                protocol=protocol,
                hours=hours,
            )
            for box in ("", "SharedMailbox", "RoomMailbox"):
                yield Case(evidence, ALICE, CONFIG, (), told, box)


def all_cases() -> Iterator[Case]:
    yield from smtp_cases()
    for protocol in ("IMAP4", "Exchange Web Services"):  # POP3 shares IMAP4's codes
        yield from smtp_cases(protocol)
    yield from exclusion_cases()
    yield from activity_cases()
    yield from timing_cases()


@dataclass
class Emitted:
    """Every code seen, by the rule (or verdict status) that emitted it, with one input that did."""

    by_rule: dict[str, dict[str, object]]
    by_status: dict[Status, dict[str, object]]
    advice: dict[str, object]

    def record(self, where: dict[str, object], codes: tuple[str, ...], source: object) -> None:
        for code in codes:
            where.setdefault(code, source)


def run_rules(cases: Iterator[Case]) -> Emitted:
    """Each rule's own function on every case, and the whole verdict."""
    seen = Emitted(by_rule={rule.name: {} for rule in catalog.RULES}, by_status={}, advice={})
    for case in cases:
        by_rule = seen.by_rule
        seen.record(
            by_rule[exclusion.RULE.name], exclusion.exclusion_reasons(case.user, case.evidence, case.config), case
        )
        entry = senders.judged_here(case.evidence, case.config)
        if entry is not None:
            # a stale verdict's code is staleness's
            sent = senders.judge(case.evidence, case.config, NOW, case.told, entry, case.mailbox_type)
            by = senders.RULE.name if entry is protocols.SMTP_AUTH else mailbox_clients.RULE.name
            seen.record(by_rule[staleness.RULE.name if sent.status == "stale" else by], sent.reasons, case)
        elif case.evidence.legacy_total:
            _, reasons = legacy_activity.classify(case.evidence, case.config)
            seen.record(by_rule[legacy_activity.RULE.name], reasons, case)
        for record in case.devices:
            judged = devices.judge_device(record, case.config.stale_days, NOW)
            seen.record(by_rule[devices.RULE.name], judged.reasons, case)
        for agent in (case.evidence.user_agent, *(d.user_agent for d in case.devices)):
            seen.record(by_rule[advice.RULE.name], advice.advice_for(parse_user_agent(agent)), case)
        verdict = status.evaluate(
            case.evidence, case.user, case.config, NOW, case.devices, case.told, case.mailbox_type
        )
        seen.record(seen.by_status.setdefault(verdict.status, {}), verdict.reasons, case)
        seen.record(seen.advice, verdict.advice, case)
    return seen


def undeclared(seen: Emitted) -> list[str]:
    rules = {rule.name: rule for rule in catalog.RULES}
    problems = [
        f"rule {name} emitted {code!r}, which it does not declare, for {source}"
        for name, codes in seen.by_rule.items()
        for code, source in codes.items()
        if code not in rules[name].codes
    ]
    for verdict_status, codes in seen.by_status.items():
        allowed = {code for rule in EMITTERS[verdict_status] for code in rule.codes}
        owners = ", ".join(rule.name for rule in EMITTERS[verdict_status])
        problems += [
            f"verdict {verdict_status} has {code!r}, declared by none of {owners}, for {source}"
            for code, source in codes.items()
            if code not in allowed
        ]
    problems += [
        f"a verdict's advice has {code!r}, declared by none of the advice rules, for {source}"
        for code, source in seen.advice.items()
        if all(code not in rule.codes for rule in ADVISERS)
    ]
    return problems


@pytest.fixture(scope="module")
def seen() -> Emitted:
    """The whole grid, judged once for the tests below."""
    return run_rules(all_cases())


def test_the_grid_is_broad() -> None:
    assert sum(1 for _ in all_cases()) > 20_000


def test_every_code_evaluate_emits_is_declared(seen: Emitted) -> None:
    problems = undeclared(seen)
    assert not problems, "\n".join(problems[:20])


def test_the_grid_reaches_every_declared_verdict_code(seen: Emitted) -> None:
    """A declared code no input reaches is dead, or the grid above misses a case: either way, look."""
    verdict_codes = {code for codes in seen.by_status.values() for code in codes} | set(seen.advice)
    declared = {code for rule in status.RULES for code in rule.codes}
    assert declared - verdict_codes == set()
    assert set(seen.by_status) == set(get_args(Status))


def golden_verdicts() -> dict[str, Verdict]:
    """The inputs of tests/test_verdicts_golden.py, judged without the simulator or storage."""
    from collectors.directory import parse_user
    from collectors.signins import parse_signin
    from core.constants import EXCHANGE_ACTIVESYNC
    from rules.evidence import fold_apple, fold_legacy
    from rules.spray import SprayTracker, attribute_spray
    from tests import test_verdicts_golden as golden

    scenario, _ = inspect.unwrap(golden.golden_tenant)("catalog")
    events = {e.id: e for e in (parse_signin(raw)[0] for raw in scenario.sign_ins) if e is not None}
    newest_first = sorted(events.values(), key=lambda e: e.created_at, reverse=True)
    deltas: dict[str, Delta] = {}
    fold_legacy(deltas, newest_first, frozenset({EXCHANGE_ACTIVESYNC.casefold()}))
    fold_apple(deltas, newest_first)
    config = RuleConfig(excluded_upns=frozenset({"listed@contoso.example"}))
    tracker = SprayTracker(min_accounts=config.spray_min_accounts)
    tracker.add(newest_first)
    users = {u.id: u for u in map(parse_user, scenario.users) if u is not None}
    verdicts: dict[str, Verdict] = {}
    for user_id, delta in deltas.items():
        evidence, _ = attribute_spray(delta, tracker.sources)
        user = users[user_id]
        verdicts[user.upn.split("@")[0]] = status.evaluate(evidence, user, config, NOW)
    return verdicts


def test_the_golden_corpus_emits_only_declared_codes() -> None:
    from tests.test_verdicts_golden import GOLDEN

    verdicts = golden_verdicts()
    seen = Emitted(by_rule={}, by_status={}, advice={})
    for name, verdict in verdicts.items():
        seen.record(seen.by_status.setdefault(verdict.status, {}), verdict.reasons, f"golden user {name}")
        seen.record(seen.advice, verdict.advice, f"golden user {name}")
    problems = undeclared(seen)
    assert not problems, "\n".join(problems)
    # The replay is faithful: the statuses and reasons the end-to-end golden test expects.
    assert {n: (v.status, list(v.reasons)) for n, v in verdicts.items() if n in GOLDEN} == {
        n: (s, r) for n, (s, r, _) in GOLDEN.items()
    }


def all_entries() -> list[tuple[str, Reason]]:
    """Every declared reason and advice code (by rule name), then every tenant finding."""
    return [(rule.name, reason) for rule in catalog.RULES for reason in rule.reasons] + [
        ("tenant finding", entry) for entry in (*readiness.FINDINGS, *retirements.FINDINGS, *switches.FINDINGS)
    ]


def test_every_declared_code_is_unique_and_described() -> None:
    entries = all_entries()
    codes = [reason.code for _, reason in entries]
    assert [c for c in codes if codes.count(c) > 1] == [], "a code means one thing everywhere"
    assert set(SEVERITIES) == set(get_args(Severity))
    for owner, reason in entries:
        where = f"{owner}: {reason.code}"
        assert CODE.match(reason.code), where
        assert reason.severity in SEVERITIES, where
        assert reason.summary.strip() and reason.summary.endswith(".") and "\n" not in reason.summary, where
        assert reason.link == "" or re.fullmatch(r"https://[^\s\"'<>]+", reason.link), where
        if owner != "tenant finding":
            assert reason.action.strip(), f"{where} says nothing about what to do"


def test_rules_expose_their_codes_and_the_catalog_gathers_them() -> None:
    for rule in catalog.RULES:
        assert rule.codes == tuple(r.code for r in rule.reasons)
        assert all(rule.reason(code).code == code for code in rule.codes)
        assert all(catalog.rule_of(code) is rule for code in rule.codes)
        assert all(catalog.REASONS[code] is rule.reason(code) for code in rule.codes)
    tenant = (*readiness.FINDINGS, *retirements.FINDINGS, *switches.FINDINGS)
    assert set(catalog.FINDINGS) == {entry.code for entry in tenant}
    assert sum(len(rule.reasons) for rule in catalog.RULES) == len(catalog.REASONS)


def snapshots() -> Iterator[TenantSnapshot]:
    seen = datetime(2026, 11, 19, 3, 0, tzinfo=UTC)
    apples = (
        None,
        AppleAppStatus(present=False),
        AppleAppStatus(present=True),
        AppleAppStatus(present=True, display_name="Apple Internet Accounts", admin_consent=True),
        AppleAppStatus(present=True, admin_consent=True),
    )
    consents = (None, ConsentPolicy(None, problem="needs Policy.Read.All"), ConsentPolicy(True), ConsentPolicy(False))
    blocks = (
        None,
        LegacyBlockPolicy((), readable=False, problem="needs Policy.Read.All"),
        LegacyBlockPolicy(("Block legacy auth",)),
        LegacyBlockPolicy(()),
        LegacyBlockPolicy((), report_only=("Block legacy auth",)),
    )
    attacks = (None, AttackFinding(0, {}, seen, seen), AttackFinding(3, {"192.0.2.66": 3, "192.0.2.67": 2}, seen, seen))
    device_findings = (
        None,
        DeviceFinding(readable=False, problem="needs the Exchange role"),
        DeviceFinding(readable=True, devices=5, requests=2),
        DeviceFinding(readable=True, devices=5, legacy=1, requests=2),
        DeviceFinding(readable=True, devices=5, obsolete=2, requests=2),
    )
    senders = (
        None,
        SenderSetup("DoNotReply@0f3c2b1a-1111-4222-8333-944455556666.azurecomm.net", 100, 3),
        SenderSetup("it-helpdesk@contoso.example", 100, 3),
    )
    for apple, consent, block, attack, found, logs, sender in itertools.product(
        apples, consents, blocks, attacks, device_findings, (None, True, False), senders
    ):
        yield TenantSnapshot(apple, consent, block, attack, found, signin_logs_available=logs, sender=sender)
    yield TenantSnapshot(unread=(UnreadSpan("signins-legacy", seen, seen + timedelta(seconds=1), "noValue"),))


def test_every_tenant_finding_is_in_the_catalog() -> None:
    states = [UserState("u1", Evidence(), Verdict("legacy_active", ("legacy_signin_succeeded",)), "v", NOW)]
    produced: set[str] = set()
    for snapshot, users in itertools.product(snapshots(), ([], states)):
        for found in readiness.tenant_findings(snapshot, users):
            assert found.name in readiness.CATALOG, f"{found.name} is not in readiness.FINDINGS"
            entry = readiness.CATALOG[found.name]
            assert (found.severity, found.link) == ("info" if found.ok else entry.severity, entry.link), found
            produced.add(found.name)
    assert produced == set(readiness.CATALOG), "a catalog entry no tenant snapshot produces"


def test_the_sign_in_logs_finding_carries_its_catalog_entry() -> None:
    entry = readiness.CATALOG["signin_logs"]
    found = readiness.SIGNIN_LOGS_FINDING
    assert (found.name, found.ok, found.severity, found.link, found.action) == (
        "signin_logs",
        False,
        entry.severity,
        entry.link,
        entry.action,
    )
