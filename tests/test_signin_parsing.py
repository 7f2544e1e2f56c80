"""Graph pages with missing or odd fields are normal: keep what is usable, count what is skipped."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from collectors.graph import GraphResponseError
from collectors.signins import legacy_filter, odata_string, parse_signins_bytes, parse_signins_page

GOOD = {
    "id": "a1",
    "createdDateTime": "2026-11-19T08:15:02.1234567Z",
    "userId": "AAAAAAAA-0000-4000-8000-000000000001",
    "userPrincipalName": "alice@contoso.example",
    "appId": "00000002-0000-0ff1-ce00-000000000000",
    "clientAppUsed": "Exchange ActiveSync",
    "status": {"errorCode": 0},
    "deviceDetail": {"operatingSystem": "Ios"},
    "userAgent": "Apple-iPhone14C2/2004.47",
}


def test_a_normal_record_becomes_a_slim_event() -> None:
    page = parse_signins_page({"value": [GOOD]})
    (event,) = page.events
    assert event.created_at == datetime(2026, 11, 19, 8, 15, 2, 123456, tzinfo=UTC)
    assert event.user_id == "aaaaaaaa-0000-4000-8000-000000000001"
    assert (event.error_code, event.operating_system, event.user_agent) == (0, "Ios", "Apple-iPhone14C2/2004.47")
    assert not page.skipped


ODD = [
    {**GOOD, "id": None},
    {**GOOD, "userId": ""},
    {**GOOD, "createdDateTime": "yesterday"},
    {**GOOD, "status": None},
    {**GOOD, "id": "a2", "status": {"errorCode": "50126"}, "deviceDetail": None, "userAgent": None},
]


@pytest.mark.parametrize("odd_shape", [False, True], ids=["fast path", "careful path"])
def test_odd_records_are_counted_by_reason(odd_shape: bool) -> None:
    """Raw bytes go through the fast decoder; a page with a record that is not an object, the careful one."""
    records = [GOOD, *(["not an object"] if odd_shape else []), *ODD]
    page = parse_signins_bytes(orjson.dumps({"value": records, "@odata.nextLink": "https://graph/next"}))
    assert page.next_link == "https://graph/next"
    assert [e.id for e in page.events] == ["a1", "a2"]
    assert page.events[1].error_code == 50126
    assert page.events[1].operating_system == ""
    assert dict(page.skipped) == {
        **({"not_an_object": 1} if odd_shape else {}),
        "missing_id": 1,
        "missing_user_id": 1,
        "bad_created_date_time": 1,
        "missing_status_error_code": 1,
    }


def test_a_page_without_a_value_list_is_an_error_not_an_empty_last_page() -> None:
    # changed by issue 16: a 200 without a value list used to read as an empty last page (the hour lost)
    with pytest.raises(GraphResponseError, match="without 'value'"):
        parse_signins_page({"value": None})
    with pytest.raises(GraphResponseError, match="without 'value'"):
        parse_signins_bytes(b'{"value": {"oops": 1}}')
    with pytest.raises(GraphResponseError, match="not JSON"):
        parse_signins_bytes(b"<html>Service Unavailable</html>")


def test_filters_quote_values_and_leave_dates_unquoted() -> None:
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
    assert legacy_filter(start, end, ["Exchange ActiveSync"]) == (
        "createdDateTime ge 2026-11-01T00:00:00Z and createdDateTime lt 2026-11-02T00:00:00Z "
        "and clientAppUsed eq 'Exchange ActiveSync'"
    )
    assert "(clientAppUsed eq 'IMAP4' or clientAppUsed eq 'POP3')" in legacy_filter(start, end, ["IMAP4", "POP3"])
    assert odata_string("O'Brien") == "'O''Brien'"
