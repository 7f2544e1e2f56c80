"""A scenario by name (the built-in tenants of sim/demo_tenant.py) or from a JSON file (`cli sim --scenario`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from sim.demo_tenant import build_demo_tenant, build_empty_tenant
from sim.scenario import DEFAULT_ACS_KEY, Scenario, authorization_policy


def load_scenario(name_or_file: str, now: datetime) -> Scenario:
    """A built-in scenario by name (demo, empty) or a JSON file with the same keys as Scenario."""
    builtins = {"demo": build_demo_tenant, "empty": build_empty_tenant}
    if name_or_file in builtins:
        return builtins[name_or_file](now)
    path = Path(name_or_file)
    if not path.is_file():
        raise ValueError(f"--scenario: {name_or_file!r} is neither a built-in ({', '.join(builtins)}) nor a file")
    data = orjson.loads(path.read_bytes())
    if not isinstance(data, dict) or "tenant_id" not in data:
        raise ValueError(f"{path}: a scenario file is a JSON object with at least 'tenant_id'")
    return Scenario(
        tenant_id=data["tenant_id"],
        users=list(data.get("users", [])),
        sign_ins=list(data.get("sign_ins", [])),
        service_principals=list(data.get("service_principals", [])),
        grants=list(data.get("grants", [])),
        authorization_policy=dict(data.get("authorization_policy") or authorization_policy(user_consent=False)),
        ca_policies=list(data.get("ca_policies", [])),
        acs_key=data.get("acs_key", DEFAULT_ACS_KEY),
        expected=dict(data.get("expected", {})),
        mailed=set(data.get("mailed", [])),
        managers={str(k): str(v) for k, v in dict(data.get("managers", {})).items()},
        mailboxes=list(data.get("mailboxes", [])),
        devices=list(data.get("devices", [])),
        faults=dict(data.get("faults", {})),
        throttle=_throttle(data.get("throttle", [5, 10.0]), path),
        latency_ms=float(data.get("latency_ms", 0.0)),
        page_size=int(data.get("page_size", 1000)),
        quirks={str(k): int(v) for k, v in dict(data.get("quirks", {})).items()},
    )


def _throttle(value: Any, path: Path) -> tuple[int, float]:
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int | float) for v in value)):
        raise ValueError(f"{path}: 'throttle' is [requests, seconds], e.g. [5, 10]")
    return int(value[0]), float(value[1])
