"""What must hold of any template we ship, read from the parsed Bicep (pycep, the parser checkov uses)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pycep import BicepParser

from pipeline.settings import LOCAL_ONLY_SETTINGS

ROOT = Path(__file__).resolve().parent.parent
CODE_DIRS = ("core", "rules", "collectors", "store", "notify", "report", "pipeline", "blueprints")
CODE_FILES = ("function_app.py",)
SECRET_NAME = re.compile(r"KEY|SECRET|PASSWORD|CONNECTION_?STRING|SAS", re.IGNORECASE)
SECRET_VALUE = re.compile(r"listKeys|AccountKey=|SharedAccessSignature|primaryKey", re.IGNORECASE)
ALLOWED_SECRET_LOOKING = {"APPLICATIONINSIGHTS_CONNECTION_STRING"}
"""Identifies the App Insights resource only: local auth is disabled, ingestion uses Entra ID."""


def parse_folder(folder: Path) -> dict[str, dict[str, Any]]:
    """Each .bicep file below ``folder`` as pycep's JSON (a plain dict per file)."""
    parsed: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.rglob("*.bicep")):
        parsed[str(path.relative_to(folder))] = dict(BicepParser().parse(text=path.read_text()))
    return parsed


def resources(docs: dict[str, dict[str, Any]], type_: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in docs.values():
        for name, resource in (doc.get("resources") or {}).items():
            if resource.get("type") == type_ and not resource.get("existing"):
                config = resource["config"]
                yield name, config.get("config", config) if "loop_type" in config else config


def app_settings(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for _, site in resources(docs, "Microsoft.Web/sites"):
        for item in site.get("properties", {}).get("siteConfig", {}).get("appSettings", []):
            found[item["name"]] = item["value"]
    return found


def settings_read_by_code() -> set[str]:
    files = [p for d in CODE_DIRS for p in (ROOT / d).rglob("*.py")] + [ROOT / f for f in CODE_FILES]
    return {m for p in files for m in re.findall(r'"(LAM_[A-Z_]+)"', p.read_text())}


def settings_problems(docs: dict[str, dict[str, Any]]) -> list[str]:
    deployed = {name for name in app_settings(docs) if name.startswith("LAM_")}
    read = settings_read_by_code()
    problems = [f"{n}: read by the app but not set by Bicep" for n in sorted(read - deployed - LOCAL_ONLY_SETTINGS)]
    problems += [f"{n}: set by Bicep but never read by the app" for n in sorted(deployed - read)]
    problems += [f"{n}: a local-stack secret must not be deployed" for n in sorted(deployed & LOCAL_ONLY_SETTINGS)]
    return problems


def security_problems(docs: dict[str, dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    for name, value in app_settings(docs).items():
        if name == "AzureWebJobsStorage" or (SECRET_NAME.search(name) and name not in ALLOWED_SECRET_LOOKING):
            problems.append(f"app setting {name}: looks like a key or connection string")
        if SECRET_VALUE.search(str(value)):
            problems.append(f"app setting {name}: its value reads a key")
    for name, site in resources(docs, "Microsoft.Web/sites"):
        props = site.get("properties", {})
        config = props.get("siteConfig", {})
        if props.get("httpsOnly") is not True:
            problems.append(f"site {name}: httpsOnly must be true")
        if config.get("minTlsVersion") != "1.2":
            problems.append(f"site {name}: minTlsVersion must be 1.2")
        if config.get("ftpsState") != "Disabled":
            problems.append(f"site {name}: FTP must be disabled")
    switched_off: set[str] = set()
    for doc in docs.values():
        for resource in (doc.get("resources") or {}).values():
            if resource.get("type") != "Microsoft.Web/sites/basicPublishingCredentialsPolicies":
                continue
            config = resource["config"]
            loop = config.get("loop_type")
            inner = config.get("config", config) if loop else config
            if inner.get("properties", {}).get("allow") is False:
                names = loop["detail"]["array_name"] if loop else [inner.get("name")]
                switched_off.update(n for n in names if isinstance(n, str))
    if any(True for _ in resources(docs, "Microsoft.Web/sites")) and not {"ftp", "scm"} <= switched_off:
        problems.append("basic publishing credentials (ftp, scm) must be disabled")
    for name, account in resources(docs, "Microsoft.Storage/storageAccounts"):
        props = account.get("properties", {})
        expected = {
            "allowBlobPublicAccess": False,
            "allowSharedKeyAccess": False,
            "minimumTlsVersion": "TLS1_2",
            "supportsHttpsTrafficOnly": True,
        }
        for key, want in expected.items():
            if props.get(key) != want:
                problems.append(f"storage {name}: {key} must be {want}")
    return problems
