"""Everything an attacker can grow is bounded: strings, keys, the spray state, the staging order.

The cases are the ones found by attacking the monitor on loopback (issue 16): each failed before.
"""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from azure.data.tables import TableServiceClient

from collectors.graph import build_graph_client
from collectors.signins import parse_signins_bytes
from core.bounds import CUT_MARKER, MAX_TEXT_CHARS, bounded, is_key_safe
from core.clock import parse_graph_time
from core.dedupe import id_key
from core.ingest import IngestWindow, UnreadSpan
from core.records import Delta, DeviceRecord, Evidence, SignInEvent, UserState, Verdict
from devstack.azurite import Azurite
from rules.spray import MAX_SOURCES, SprayTracker, attack_finding
from rules.unread import MAX_SPANS, merge_spans, still_checkable
from store.checkpoints import SPRAY_CHUNKS, CheckpointRepository
from store.staging import StagingTable
from store.tables import CHUNK_BYTES, ensure_tables
from store.users import MAX_PROPERTY_CHARS, from_entity, to_entity

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def record(record_id: str, **fields: Any) -> dict[str, Any]:
    base = {
        "id": record_id,
        "createdDateTime": "2026-11-20T10:00:00Z",
        "userId": "5d1c1b0e-0c1c-4a55-9c58-3e7a1c1b0e01",
        "clientAppUsed": "Exchange ActiveSync",
        "status": {"errorCode": 50126},
    }
    return base | fields


def test_strings_are_cut_with_a_marker_and_keys_checked() -> None:
    assert bounded("x" * 10) == "x" * 10
    cut = bounded("x" * 9000)
    assert len(cut) == MAX_TEXT_CHARS and cut.endswith(CUT_MARKER)
    assert is_key_safe("5d1c1b0e-0c1c-4a55-9c58-3e7a1c1b0e01") and is_key_safe("a+")
    for bad in ("a/b", "a#b", "a?b", "a\x00b", "a b", "a!b", "", "x" * 129, "a\\b", "a\u0085b"):
        assert not is_key_safe(bad), repr(bad)


def test_each_poison_record_is_skipped_by_reason_with_a_sample() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    page = (
        orjson.dumps(
            {
                "value": [
                    record("ok"),
                    record("date", createdDateTime="0001-01-01T00:00:00+01:00"),
                    record("dashes", status={"errorCode": "--5"}),
                    record("super", status={"errorCode": "²"}),
                    record("huge-code", status={"errorCode": "BIG"}),
                    record("slash", userId="a/#?\x00"),
                    record("agent", userAgent="=HYPERLINK(" + "A" * 9000),
                    record("deep", location="DEEP"),
                ],
                "@odata.nextLink": "https://graph.microsoft.com/beta/auditLogs/signIns?$skiptoken=x",
            }
        )
        .replace(b'"DEEP"', deep)
        .replace(b'"BIG"', b"1" * 30)
    )
    parsed = parse_signins_bytes(page)
    assert [e.id for e in parsed.events] == ["ok", "agent", "deep"]
    assert parsed.events[1].user_agent.endswith(CUT_MARKER) and len(parsed.events[1].user_agent) == MAX_TEXT_CHARS
    assert parsed.events[2].country == ""  # the field nested 100,000 deep was cut, the sign-in kept
    assert dict(parsed.skipped) == {
        "bad_created_date_time": 1,
        "missing_status_error_code": 3,
        "bad_user_id": 1,
        "field_nested_too_deep": 1,
    }
    assert parsed.samples == {
        "bad_created_date_time": "date",
        "missing_status_error_code": "dashes",
        "bad_user_id": "slash",
    }
    assert parsed.next_link is not None


def test_a_time_before_year_one_in_utc_is_unreadable_not_a_crash() -> None:
    assert parse_graph_time("0001-01-01T00:00:00+01:00") is None
    assert parse_graph_time("9999-12-31T23:59:59-01:00") is None


def spray_event(source: int, account: int, minute: float) -> SignInEvent:
    return SignInEvent(
        id=f"{source}-{account}",
        created_at=NOW - timedelta(minutes=minute),
        user_id=f"victim{account}",
        upn="",
        app_id="",
        client_app="Exchange ActiveSync",
        error_code=50126,
        ip=f"2001:db8:{source // 65536:x}:{source % 65536:x}::1",
    )


def test_a_spray_from_100000_sources_stays_one_finding_in_a_bounded_state_with_memory_flat() -> None:
    """Before: 2,600 sources made the state 197 KB and the checkpoint write failed on every run."""
    tracker = SprayTracker(min_accounts=2)
    tracemalloc.start()
    try:
        for batch in range(100):  # pages of 2,000 failures, newest first, all in the last hour
            events = [
                spray_event(source, account, minute=50 - batch * 0.4)
                for source in range(batch * 1000, batch * 1000 + 1000)
                for account in range(2)
            ]
            tracker.add(events)
            del events
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(tracker.sources) == MAX_SOURCES
    assert len(tracker.sources) + tracker.unnamed == 100_000, "every source counted, named or not"
    assert tracker.source_count == 100_000
    unnamed_ip = spray_event(99_999, 0, 0).ip
    assert unnamed_ip not in tracker.sources and unnamed_ip in tracker.spray_sources(), "its victims are marked"
    state = orjson.dumps(tracker.state())
    assert len(state) <= SPRAY_CHUNKS * CHUNK_BYTES
    assert peak < 40 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    victims = {ip: 2 for ip in list(tracker.sources)[:30]}
    finding = attack_finding(tracker, victims, accounts=2)
    assert finding is not None and len(finding.sources) == 20 and finding.source_count == 100_000
    assert finding.first_seen <= finding.last_seen


def test_open_hours_of_many_small_sources_are_evicted_fewest_accounts_first() -> None:
    tracker = SprayTracker(min_accounts=5)
    crowd = [spray_event(source, 0, minute=30 - source * 0.001) for source in range(5000)]  # one account each
    burst = [spray_event(99_999, account, minute=40 - account) for account in range(5)]
    tracker.add(crowd[:2500])
    tracker.add(burst[:3])  # the burst's source is three accounts in
    tracker.add(crowd[2500:])
    tracker.add(burst[3:])
    assert tracker.evicted >= 4500
    assert list(tracker.sources) == [burst[0].ip], "the source closest to the threshold was kept"
    assert len(orjson.dumps(tracker.state())) <= SPRAY_CHUNKS * CHUNK_BYTES


def test_a_window_row_with_a_huge_spray_still_saves(azurite: Azurite, tenant_id: str) -> None:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    ensure_tables(service)
    tracker = SprayTracker(min_accounts=2)
    tracker.add([spray_event(s, a, minute=50 - s * 0.0001) for s in range(20_000) for a in range(2)])
    window = IngestWindow(window_id="w1", end=NOW, starts={"signins-legacy": NOW - timedelta(days=1)}, opened_at=NOW)
    window.spray = tracker.state()
    repo = CheckpointRepository(service.get_table_client("checkpoints"), tenant_id)
    repo.save_window(window)
    loaded = repo.load_window()
    assert loaded is not None
    assert SprayTracker.from_state(2, loaded.spray).unnamed == 20_000 - MAX_SOURCES


def test_an_id_that_is_a_prefix_of_another_is_staged_and_read_back(azurite: Azurite, tenant_id: str) -> None:
    """Before: "a" was padded to partition "a0", read back after "a+", and dropped by the merge."""
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    staging = StagingTable(service, tenant_id, "20261120120000beef")
    ids = ["a", "a+", "a0", "a-b", "ab", "b"]
    deltas = {i: Delta(Evidence(legacy_failure=n + 1)) for n, i in enumerate(ids)}
    for _ in staging.write(0, "x1", deltas):
        pass
    read = [(user, delta.evidence.legacy_failure) for user, delta in staging.committed(["x1"])]
    staging.drop()
    assert read == sorted((i, n + 1) for n, i in enumerate(ids))


def test_spray_sources_past_the_named_ones_are_staged_beside_the_deltas_and_read_back_if_committed(
    azurite: Azurite, tenant_id: str
) -> None:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    staging = StagingTable(service, tenant_id, "20261120120000cafe")
    found = [id_key(f"2001:db8:{n:x}::1") for n in range(20_000)]  # three rows of 64 KiB
    for _ in staging.write(0, "x1", {"a": Delta(Evidence(legacy_failure=1))}):
        pass
    written = sum(staging.write_sources(0, "x1", found[:15_000]))
    written += sum(staging.write_sources(1, "dead", found[15_000:]))  # a run that died before committing
    back = set(staging.sources(["x1", "x2"]))
    users = [user for user, _ in staging.committed(["x1"])]
    staging.drop()
    assert written == 3 and back == set(found[:15_000])
    assert users == ["a"], "the sources' partition is not a user"


def test_real_next_links_stay_on_graph_and_others_do_not() -> None:
    """Real nextLinks: microsoftgraph/microsoft-graph-docs-contrib api-reference/v1.0/api/signin-list.md
    (Example 1's response) and microsoftgraph/msgraph-sdk-powershell issue 2677 (a $skiptoken with ! and %2f)."""
    graph = build_graph_client("https://graph.microsoft.com", None)
    for real in (
        "https://graph.microsoft.com/v1.0/auditLogs/signIns?$top=1&$skiptoken=9177f2e3532fcd4c4d225f68f7b9bdf7_1",
        "https://graph.microsoft.com/beta/security/auditLog/queries/q/records?$skiptoken=1!4!MA--%2f1!48!MDAxOTcw",
    ):
        assert graph.owns(real)
    for forged in (
        "https://graph.microsoft.com:8443/v1.0/auditLogs/signIns?$skiptoken=x",
        "http://graph.microsoft.com/v1.0/auditLogs/signIns",
        "https://graph.microsoft.com.evil.example/v1.0/auditLogs/signIns",
        "https://evil.example/v1.0/auditLogs/signIns?https://graph.microsoft.com/",
        "https://graph.microsoft.com@evil.example/v1.0/auditLogs/signIns",
        "//evil.example/v1.0",
        "v1.0/auditLogs/signIns?$skiptoken=x",
    ):
        assert not graph.owns(forged), forged


def test_a_user_row_with_hostile_device_text_stays_within_one_property() -> None:
    """Exchange's device fields are outside text too: 20 partnerships of 9,000-character fields."""
    huge = "[/]" + "D" * 9000
    devices = tuple(
        DeviceRecord(user_id="u", device_id=f"d{n}", friendly_name=huge, device_model=huge, user_agent=huge)
        for n in range(20)
    )
    state = UserState(
        user_id="u",
        evidence=Evidence(upn="=cmd|' /C calc'!A0" + "x" * 9000, user_agent=huge),
        verdict=Verdict("legacy_active", ("legacy_signin_succeeded",)),
        rule_version="1",
        status_since=NOW,
        devices=devices,
    )
    entity = to_entity("tenant", state)
    assert len(entity["Devices"]) <= MAX_PROPERTY_CHARS
    assert all(len(v) <= MAX_TEXT_CHARS for k, v in entity.items() if isinstance(v, str) and k != "Devices")
    back = from_entity(entity)
    assert 0 < len(back.devices) < 20 and back.devices[0].friendly_name.endswith(CUT_MARKER)
    assert back.evidence.upn.endswith(CUT_MARKER)


def test_skipped_spans_of_the_log_are_joined_capped_and_dropped_once_entra_id_no_longer_keeps_them() -> None:
    def span(second: int, stream: str = "signins-legacy") -> UnreadSpan:
        start = NOW - timedelta(seconds=second)
        return UnreadSpan(stream, start, start + timedelta(seconds=1), "noValue")

    walked = merge_spans([], [span(s) for s in range(1, 500)])  # a Graph that answers every second badly
    assert walked == [UnreadSpan("signins-legacy", NOW - timedelta(seconds=499), NOW, "noValue")]
    scattered = merge_spans([span(5, "signins-apple")], [span(10 * s) for s in range(1, 100)])
    assert len(scattered) == MAX_SPANS and scattered[0] == span(5, "signins-apple") and scattered[1] == span(10)
    old = UnreadSpan("signins-legacy", NOW - timedelta(days=31), NOW - timedelta(days=31, seconds=-1), "invalidJson")
    assert still_checkable([old, span(10)], NOW) == [span(10)]
