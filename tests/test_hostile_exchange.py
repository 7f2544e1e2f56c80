"""A hostile Exchange admin API on loopback: answers that would send the token elsewhere, page forever, are
no JSON, or name a user id that is no Entra object id. Each is refused or skipped and counted; the run goes on.

The objects are the simulator's shapes (sim/graph_shapes.py: Get-Mailbox, Get-MobileDevice), the nextLink
its shape too (the same InvokeCommand URL with a $skiptoken); the hostile changes are made by hand here.
Real HTTP on 127.0.0.1 (tests/hostile.py's Server), the collectors as the collect step calls them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler

import orjson
import pytest

from collectors.devices import DeviceCollectorError, DeviceHarvest, ExchangeTarget, collect_devices
from collectors.switches import read_switches
from sim.graph_shapes import exchange_device, exchange_mailbox
from tests.hostile import Answer, Server, send

TENANT = "contoso-tenant"
TOKEN = "eyJ0eXAiOiJKV1QiLCJub25jZSI6InNlY3JldCJ9.token-for-exchange-only"
OWNER = {"id": "7d2b1c9e-8f3a-4b5c-9d6e-1f2a3b4c5d6e", "displayName": "Ada", "userPrincipalName": "ada@contoso.example"}
Cmdlets = Callable[[str, str], Answer]
"""(cmdlet name, request path) → the answer."""


def exchange(answer: Cmdlets) -> Server:
    """A loopback Exchange admin API that lets ``answer`` speak for every cmdlet."""

    def handle(handler: BaseHTTPRequestHandler) -> None:
        body = orjson.loads(handler.rfile.read(int(handler.headers.get("Content-Length") or 0)))
        send(handler, answer(body["CmdletInput"]["CmdletName"], handler.path))

    return Server(handle)


def page(items: list[dict[str, object]], next_link: str | None = None) -> Answer:
    body: dict[str, object] = {"value": items, **({"@odata.nextLink": next_link} if next_link else {})}
    return Answer(200, orjson.dumps(body), {"Content-Type": "application/json"})


def target(server: Server) -> ExchangeTarget:
    return ExchangeTarget(server.url, TENANT, "contoso.onmicrosoft.com")


def test_a_next_link_to_another_host_is_not_followed_and_the_token_stays_home() -> None:
    with Server(lambda handler: send(handler, page([]))) as thief:
        stolen = f"{thief.url}/adminapi/beta/{TENANT}/InvokeCommand?$skiptoken=1000"
        with exchange(lambda cmdlet, path: page([], stolen)) as exo, pytest.raises(DeviceCollectorError) as refused:
            asyncio.run(collect_devices(target(exo), TOKEN))
        assert thief.requests == []
    assert "Get-Mailbox answered a nextLink to another host, not followed" in refused.value.finding
    assert TOKEN not in refused.value.finding


def test_a_next_link_that_repeats_stops_the_paging_with_a_finding() -> None:
    def answer(cmdlet: str, path: str) -> Answer:
        return page([], f"{exo.url}/adminapi/beta/{TENANT}/InvokeCommand?$skiptoken=1000")

    with exchange(answer) as exo:
        with pytest.raises(DeviceCollectorError) as refused:
            asyncio.run(collect_devices(target(exo), TOKEN))
        assert len(exo.requests) == 2  # the first page and the link once: never a third time
    assert "Get-Mailbox kept paging (a nextLink repeated" in refused.value.finding


def test_an_answer_that_is_no_json_makes_the_switches_unreadable_not_the_run_fail() -> None:
    def answer(cmdlet: str, path: str) -> Answer:
        return Answer(200, b"<html>Service Unavailable</html>", {"Content-Type": "text/html"})

    with exchange(answer) as exo:
        switches = asyncio.run(read_switches(target(exo), TOKEN, ["scanner@contoso.example"]))
    assert switches.readable is False
    assert switches.problem.startswith("Exchange Get-TransportConfig answered with no JSON")


def test_one_mailbox_answered_with_no_json_is_skipped_and_counted() -> None:
    def answer(cmdlet: str, path: str) -> Answer:
        if cmdlet == "Get-CASMailbox":
            return Answer(200, b"\x00not json", {"Content-Type": "application/json"})
        return page([{"SmtpClientAuthenticationDisabled": False, "EwsEnabled": None}])

    with exchange(answer) as exo:
        switches = asyncio.run(read_switches(target(exo), TOKEN, ["scanner@contoso.example"]))
    assert (switches.readable, switches.senders_checked, switches.skipped) == (True, 0, 1)


def harvest_of_one_iphone(object_id: object) -> DeviceHarvest:
    """The harvest of a tenant with one mailbox, of this ExternalDirectoryObjectId, and its iPhone."""
    mailbox = {**exchange_mailbox(OWNER, "Ada"), "ExternalDirectoryObjectId": object_id}
    iphone = exchange_device(
        mailbox, "ApplDNQXK1ABCD", first_sync=datetime(2017, 3, 2, tzinfo=UTC), last_sync=datetime.now(UTC)
    )

    def answer(cmdlet: str, path: str) -> Answer:
        return page([mailbox] if cmdlet == "Get-Mailbox" else [iphone] if cmdlet == "Get-MobileDevice" else [])

    with exchange(answer) as exo:
        return asyncio.run(collect_devices(target(exo), TOKEN))


@pytest.mark.parametrize("object_id", ["../users#x", f"{OWNER['id']}\n", "7d2b1c9e/8f3a-4b5c-9d6e-1f2a3b4c5d6e", 12345])
def test_a_mailbox_whose_object_id_is_no_guid_owns_no_device(object_id: object) -> None:
    harvest = harvest_of_one_iphone(object_id)
    assert harvest.devices == []
    assert harvest.skipped == {"mailbox_without_object_id": 1, "owner_not_found": 1}


def test_a_mailbox_with_a_guid_owns_its_device_under_that_id_in_lower_case() -> None:
    harvest = harvest_of_one_iphone(OWNER["id"].upper())
    assert [d.user_id for d in harvest.devices] == [OWNER["id"]]
    assert harvest.skipped == {}
