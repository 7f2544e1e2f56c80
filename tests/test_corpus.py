"""Real user agents and real Graph records from public sources (tests/corpus/, each row cites its source).

The truth for each row is what its source states, not what our decoder says: platform, the model's name,
the OS version where the source gives it (else the major from Apple's documented build numbering).
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest

from collectors.graph import _error_body
from collectors.signins import parse_signin
from rules.advice import advice_for
from rules.user_agent import APPLE_PLATFORMS, parse_user_agent

CORPUS = Path(__file__).parent / "corpus"


def agents() -> list[dict[str, str]]:
    with (CORPUS / "user_agents.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


def graph_items() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads((CORPUS / "signins.json").read_text(encoding="utf-8"))["items"]
    return items


def test_the_corpus_is_large_enough_and_every_row_cites_its_source() -> None:
    rows = agents()
    assert len({r["user_agent"] for r in rows}) >= 100
    assert all(r["source"].strip() and r["states"].strip() for r in rows)
    items = graph_items()
    assert len(items) >= 20 and all(item["source"].strip() for item in items)


@pytest.mark.parametrize("row", agents(), ids=lambda r: r["user_agent"][:60])
def test_each_agent_decodes_to_what_its_source_states(row: dict[str, str]) -> None:
    device = parse_user_agent(row["user_agent"])
    assert device.platform == row["platform"]
    if row["model"]:
        assert device.model == row["model"]
    if row["os_version"]:
        assert device.os_version == row["os_version"]
    if row["os_major"]:
        assert device.os_major == int(row["os_major"])


@pytest.mark.parametrize(
    "row",
    [r for r in agents() if r["platform"] in APPLE_PLATFORMS and r["os_major"] and int(r["os_major"]) < 12],
    ids=lambda r: r["user_agent"][:60],
)
def test_every_apple_device_below_ios_12_is_told_to_update_or_replace(row: dict[str, str]) -> None:
    advice = advice_for(parse_user_agent(row["user_agent"]))
    assert {"update_ios_first", "replace_device"} & set(advice), advice
    if "replace_device" in advice:  # nothing to update to: no "update first"
        assert "update_ios_first" not in advice and "remove_and_readd" not in advice


def test_the_hardware_decides_between_update_and_replace() -> None:
    by_agent = {r["user_agent"]: advice_for(parse_user_agent(r["user_agent"])) for r in agents()}
    assert by_agent["Apple-iPhone7C2/1202.440"][0] == "update_ios_first"  # iPhone 6: reaches 12.5.7
    assert by_agent["Apple-iPhone6C2/1202.411"][0] == "update_ios_first"  # iPhone 5s: reaches 12.5.7
    assert by_agent["Apple-iPhone5C2/1202.440"][0] == "replace_device"  # iPhone 5: stops at 10.3.4
    assert by_agent["Apple-iPhone4C1/1104.201"][0] == "replace_device"  # iPhone 4s: stops at 9.3.6
    assert by_agent["Apple-iPad2C1/1202.440"][0] == "replace_device"  # iPad 2: stops at 9.3.5


def test_no_agent_and_no_mangled_agent_crashes_the_decoder() -> None:
    rng = random.Random(14)
    seen = 0
    for row in agents():
        text = row["user_agent"]
        variants = [text[:cut] for cut in range(0, len(text), 3)]
        variants += [text.replace("/", "/9" * n) for n in (1, 5)]
        variants += ["".join(rng.choice(text + "\x00\xff ()/.;-C0123456789") for _ in text) for _ in range(3)]
        for variant in variants:
            device = parse_user_agent(variant)
            assert device.platform in ("ios", "ipados", "macos", "android", "windows", "outlook", "unknown")
            assert device.build is None or device.build[0].isdigit()
            advice_for(device)
            seen += 1
    assert seen > 1500


@pytest.mark.parametrize("item", [i for i in graph_items() if i["kind"] == "signIn"], ids=lambda i: i["body"]["id"])
def test_real_sign_in_records_parse_into_the_fields_the_rules_read(item: dict[str, Any]) -> None:
    event, problem = parse_signin(item["body"])
    assert event is not None, problem
    expect = item["expect"]
    assert (event.error_code, event.client_app) == (expect["error_code"], expect["client_app"])
    assert (event.operating_system, event.browser, event.country) == (
        expect["operating_system"],
        expect["browser"],
        expect["country"],
    )
    assert event.user_agent == item["body"].get("userAgent", "")


@pytest.mark.parametrize("item", [i for i in graph_items() if i["kind"] == "error"], ids=lambda i: i["source"][-12:])
def test_real_graph_error_bodies_give_their_code(item: dict[str, Any]) -> None:
    content = item["body_text"].encode() if "body_text" in item else json.dumps(item["body"]).encode()
    code, message = _error_body(httpx.Response(item["status"], content=content))
    assert code == item["expect"]["code"] and message
