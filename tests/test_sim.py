"""The simulator keeps us honest: it rejects what real services reject."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from sim.acs_auth import content_hash, expected_signature
from sim.odata import FilterError, parse_filter
from sim.scenario import Scenario
from sim.server import SimServer
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
