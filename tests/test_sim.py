"""The simulator keeps us honest: it rejects what real services reject."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from core.constants import APPLE_APP_ID
from devstack.simulator import SimServer
from sim.acs_auth import content_hash, expected_signature
from sim.generated import GeneratedTenant
from sim.odata import FilterError, parse_filter
from sim.scenario import Scenario
from tests.scenarios import tenant

StartSim = Callable[[Scenario], SimServer]
FIELDS = {"createdDateTime": "datetime", "clientAppUsed": "str", "status/errorCode": "int"}


def test_filter_grammar() -> None:
    match = parse_filter(
        "createdDateTime ge 2026-11-01T00:00:00Z and (clientAppUsed eq 'IMAP4' or clientAppUsed eq 'pop3') "
        "and status/errorCode eq 0",
        FIELDS,
    )
    assert match({"createdDateTime": "2026-11-02T00:00:00Z", "clientAppUsed": "POP3", "status": {"errorCode": 0}})
    assert not match({"createdDateTime": "2026-10-31T23:59:59Z", "clientAppUsed": "POP3", "status": {"errorCode": 0}})
    assert not match(
        {"createdDateTime": "2026-11-02T00:00:00Z", "clientAppUsed": "Browser", "status": {"errorCode": 0}}
    )
    assert not match({"createdDateTime": "2026-11-02T00:00:00Z", "clientAppUsed": "POP3"})


@pytest.mark.parametrize(
    "text",
    [
        "userDisplayName eq 'x'",
        "createdDateTime ge '2026-11-01'",
        "clientAppUsed eq IMAP4",
        "clientAppUsed eq 'x",
        "status/errorCode eq zero",
    ],
)
def test_unsupported_filters_are_errors(text: str) -> None:
    with pytest.raises(FilterError):
        parse_filter(text, FIELDS)


def signed_post(url: str, key: str, body: bytes) -> httpx.Response:
    date = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    host = url.split("://", 1)[1]
    path = "/emails:send?api-version=2023-03-31"
    signature = expected_signature(key, "POST", path, date, host, content_hash(body))
    headers = {
        "x-ms-date": date,
        "x-ms-content-sha256": content_hash(body),
        "Authorization": f"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}",
        "Content-Type": "application/json",
    }
    return httpx.post(url + path, content=body, headers=headers)


def test_acs_rejects_a_wrong_key_and_a_tampered_body(tenant_id: str, start_sim: StartSim) -> None:
    sim = start_sim(tenant(tenant_id))
    body = b'{"senderAddress":"a@b.example","recipients":{"to":[{"address":"c@d.example"}]},"content":{"subject":"s"}}'
    assert signed_post(sim.url, sim.state.scenario.acs_key, body).status_code == 202
    wrong_key = base64.b64encode(b"another key").decode()
    rejected = signed_post(sim.url, wrong_key, body)
    assert rejected.status_code == 401
    assert rejected.json()["error"]["message"] == "signature does not match"
    assert len(list(sim.state.outbox.glob("*.eml"))) == 1


def test_graph_paths_tolerate_double_slashes_and_unknown_segments_404(tenant_id: str, start_sim: StartSim) -> None:
    sim = start_sim(tenant(tenant_id))
    assert httpx.get(f"{sim.url}/v1.0//users").status_code == 200
    missing = httpx.get(f"{sim.url}/v1.0/groups")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "BadRequest"
    bad = httpx.get(f"{sim.url}/beta/auditLogs/signIns", params={"$filter": "userDisplayName eq 'x'"})
    assert bad.status_code == 400
    assert "not supported" in bad.json()["error"]["message"]


def test_the_throttle_answers_429_with_retry_after_beyond_its_budget(tenant_id: str, start_sim: StartSim) -> None:
    scenario = tenant(tenant_id)
    scenario.time_scale = 1.0
    sim = start_sim(scenario)
    answers = [httpx.get(f"{sim.url}/beta/auditLogs/signIns") for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 10
    assert answers[-1].json()["error"]["code"] == "TooManyRequests"
    assert sim.state.throttled == 1 and len(sim.state.arrivals["signIns"]) == 6
    assert httpx.get(f"{sim.url}/v1.0/users").status_code == 200, "the directory is not under the reports limit"


def test_in_filters_take_at_most_fifteen_values(tenant_id: str, start_sim: StartSim) -> None:
    sim = start_sim(tenant(tenant_id))
    ids = ",".join(f"'{n}'" for n in range(16))
    answer = httpx.get(f"{sim.url}/v1.0/users", params={"$filter": f"id in ({ids})"})
    assert answer.status_code == 400
    assert "at most 15" in answer.json()["error"]["message"]


def test_a_generated_tenant_serves_its_window_lazily_and_exactly(tenant_id: str, start_sim: StartSim) -> None:
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    tenant_data = GeneratedTenant(users=1000, events=30_000, now=now)
    sim = start_sim(Scenario(tenant_data.tenant_id, generated=tenant_data, throttle=(1000, 1.0)))
    day = "createdDateTime ge 2026-11-19T12:00:00Z and createdDateTime lt 2026-11-20T12:00:00Z"
    params = {"$filter": f"{day} and clientAppUsed eq 'Exchange ActiveSync'", "$top": "1000"}
    ids: list[str] = []
    url: str | None = f"{sim.url}/beta/auditLogs/signIns"
    while url:
        page = httpx.get(url, params=params if not ids else None).json()
        ids += [item["id"] for item in page["value"]]
        times = [item["createdDateTime"] for item in page["value"]]
        assert times == sorted(times, reverse=True), "newest first"
        url = page.get("@odata.nextLink")
    assert len(ids) == len(set(ids)) == 1000  # one day of 30 days of 30,000
    apple = httpx.get(
        f"{sim.url}/v1.0/auditLogs/signIns", params={"$filter": f"{day} and appId eq '{APPLE_APP_ID}'"}
    ).json()["value"]
    assert len(apple) == 10 and all("userAgent" not in item for item in apple)
    person = tenant_data.user_id(7)
    found = httpx.get(f"{sim.url}/v1.0/users", params={"$filter": f"id in ('{person}', 'nobody')"}).json()["value"]
    assert [u["userPrincipalName"] for u in found] == ["user7@contoso.example"]
