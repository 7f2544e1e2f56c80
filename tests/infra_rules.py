"""What must hold of any template we ship, read from the parsed Bicep (pycep, the parser checkov uses)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pycep import BicepParser

from pipeline.settings import LOCAL_ONLY_SETTINGS
from report.app import KEYED_PREFIX

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


STORAGE_ROLE_SCOPES = {
    "storageBlobDataOwner": "blobService",
    "storageQueueDataContributor": "queueService",
    "storageTableDataContributor": "tableService",
}
"""Each storage role on the one service that needs it, never the whole account."""
OVERLAPPING_GRAPH_ROLES = {"Directory.Read.All", "Directory.ReadWrite.All"}
"""Each would make User.Read.All and Application.Read.All redundant and reads far more than we need."""


def _inner(resource: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = resource["config"]
    inner: dict[str, Any] = config.get("config", config) if ("loop_type" in config or "condition" in config) else config
    return inner


def _all(docs: dict[str, dict[str, Any]], type_: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, _inner(resource))
        for doc in docs.values()
        for name, resource in (doc.get("resources") or {}).items()
        if resource.get("type") == type_ and not resource.get("existing")
    ]


def identity_problems(docs: dict[str, dict[str, Any]], folder: Path) -> list[str]:
    """Roles scoped to what needs them, telemetry allowed in, no local auth, admin sign-in with Entra ID."""
    problems: list[str] = []
    assigned: dict[str, str] = {}
    for name, assignment in _all(docs, "Microsoft.Authorization/roleAssignments"):
        text = str(assignment)
        named = re.search(r"'operand_1': 'roles', 'operand_2': '(\w+)'", text)
        scope = assignment.get("scope")
        if named:
            assigned[named.group(1)] = str(scope)
        if scope is None or (isinstance(scope, str) and scope in {"resourceGroup()", "subscription()"}):
            problems.append(f"role assignment {name}: scope it to a single resource")
    for storage_role, service in STORAGE_ROLE_SCOPES.items():
        if storage_role not in assigned:
            problems.append(f"{storage_role}: not assigned")
        elif f"'{service}'" not in assigned[storage_role]:
            problems.append(f"{storage_role}: scope it to the {service}, not the whole storage account")
    if assigned.get("monitoringMetricsPublisher") != "appInsights":
        problems.append("monitoringMetricsPublisher: the identity needs it on App Insights (local auth is off)")
    for name, acs in _all(docs, "Microsoft.Communication/communicationServices"):
        if acs.get("properties", {}).get("disableLocalAuth") is not True:
            problems.append(f"communication {name}: disableLocalAuth must be true (the app sends with its identity)")
    for name, component in _all(docs, "Microsoft.Insights/components"):
        if component.get("properties", {}).get("DisableLocalAuth") is not True:
            problems.append(f"app insights {name}: DisableLocalAuth must be true")
    auth = [cfg for _, cfg in _all(docs, "Microsoft.Web/sites/config") if cfg.get("name") == "authsettingsV2"]
    props = auth[0].get("properties", {}) if auth else {}
    if not (
        props.get("globalValidation", {}).get("requireAuthentication") is True
        and props.get("identityProviders", {}).get("azureActiveDirectory", {}).get("enabled") is True
    ):
        problems.append("admin views: Entra ID sign-in (authsettingsV2, requireAuthentication) is missing")
    validation = props.get("globalValidation", {})
    if auth and validation.get("excludedPaths") != [f"{KEYED_PREFIX}/*"]:
        problems.append(f"admin views: sign-in must leave out {KEYED_PREFIX}/* alone (the function-key door)")
    if auth and validation.get("unauthenticatedClientAction") not in ("RedirectToLoginPage", "Return401"):
        problems.append("admin views: a request without sign-in must be sent to sign in or refused")
    for name, principal in _all(docs, "Microsoft.Graph/servicePrincipals"):
        if principal.get("appRoleAssignmentRequired") is not True:
            problems.append(f"admin views: {name} must require assignment, or everyone in the tenant can sign in")
    if auth and not _all(docs, "Microsoft.Graph/servicePrincipals"):
        problems.append("admin views: the sign-in app's service principal (assignment required) is missing")
    graph_roles_file = folder / "modules" / "graph-roles.bicep"
    if graph_roles_file.exists():
        granted = docs["modules/graph-roles.bicep"]["variables"]["graphRoles"]["value"]
        for broad in sorted(OVERLAPPING_GRAPH_ROLES.intersection(granted)):
            problems.append(f"Graph role {broad}: broader than needed (least privilege)")
        lines = graph_roles_file.read_text().splitlines()
        for graph_role in granted:
            line = next((ln for ln in lines if f"'{graph_role}'" in ln), "")
            if "//" not in line or len(line.split("//", 1)[1].strip()) < 20:
                problems.append(f"Graph role {graph_role}: say why it is needed, on its line")
    return problems
