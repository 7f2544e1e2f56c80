"""infra/ checked offline: checkov's policies, and our own rules read from the parsed Bicep."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infra_rules import (
    ROOT,
    app_settings,
    identity_problems,
    parse_folder,
    resources,
    security_problems,
    settings_problems,
)

INFRA = ROOT / "infra"
BAD = ROOT / "tests" / "fixtures" / "infra_bad"
CHECKOV = Path(os.environ.get("CHECKOV_BIN", ROOT / ".venv-infra" / "bin" / "checkov"))


@pytest.fixture(scope="module")
def infra() -> dict[str, dict[str, Any]]:
    return parse_folder(INFRA)


@pytest.fixture(scope="module")
def bad() -> dict[str, dict[str, Any]]:
    return parse_folder(BAD)


def checkov(folder: Path) -> dict[str, Any]:
    assert CHECKOV.exists(), f"{CHECKOV} is missing: run `make install` (it installs requirements-infra.txt)"
    result = subprocess.run(
        [str(CHECKOV), "-d", str(folder), "--framework", "bicep", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = json.loads(result.stdout)
    return report if isinstance(report, dict) else report[0]


@pytest.mark.integration  # checkov in its own process, from .venv-infra: seconds, not milliseconds
def test_checkov_finds_nothing_in_infra_and_rejects_the_broken_fixture() -> None:
    good = checkov(INFRA)
    assert good["summary"]["parsing_errors"] == 0
    assert good["summary"]["failed"] == 0, [c["check_id"] for c in good["results"]["failed_checks"]]
    for skipped in good["results"]["skipped_checks"]:
        assert len(skipped["check_result"].get("suppress_comment", "")) > 30, (
            f"{skipped['check_id']} skipped without a reason"
        )
    broken = {c["check_id"] for c in checkov(BAD)["results"]["failed_checks"]}
    assert {"CKV_AZURE_3", "CKV_AZURE_44", "CKV_AZURE_70", "CKV_AZURE_78", "CKV_AZURE_15"} <= broken


def test_every_setting_the_app_reads_is_deployed_and_nothing_else(infra: dict[str, dict[str, Any]]) -> None:
    assert settings_problems(infra) == []


def test_the_template_is_secret_free_https_only_and_tls_1_2(infra: dict[str, dict[str, Any]]) -> None:
    assert security_problems(infra) == []
    settings = app_settings(infra)
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["LAM_GRAPH_AUTH"] == "managed-identity"
    assert "LAM_TABLES_CONNECTION_STRING" not in settings and "LAM_ACS_KEY" not in settings


def test_the_broken_fixture_fails_our_rules_too(bad: dict[str, dict[str, Any]]) -> None:
    problems = security_problems(bad) + settings_problems(bad)
    for expected in (
        "app setting AzureWebJobsStorage: looks like a key or connection string",
        "app setting AzureWebJobsStorage: its value reads a key",
        "app setting LAM_ACS_KEY: looks like a key or connection string",
        "site app: httpsOnly must be true",
        "site app: minTlsVersion must be 1.2",
        "site app: FTP must be disabled",
        "basic publishing credentials (ftp, scm) must be disabled",
        "storage storage: allowBlobPublicAccess must be False",
        "storage storage: allowSharedKeyAccess must be False",
        "LAM_UNUSED_SETTING: set by Bicep but never read by the app",
        "LAM_ACS_KEY: a local-stack secret must not be deployed",
        "LAM_GRAPH_BASE_URL: read by the app but not set by Bicep",
    ):
        assert expected in problems


def test_the_identity_has_exactly_the_listed_roles(infra: dict[str, dict[str, Any]]) -> None:
    roles = infra["modules/roles.bicep"]
    assert roles["variables"]["roles"]["value"] == {
        "storageBlobDataOwner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
        "storageQueueDataContributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
        "storageTableDataContributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
        "monitoringMetricsPublisher": "3913510d-42f4-4e42-8a64-420c390055eb",
    }
    ((_, sender),) = list(resources({"r": roles}, "Microsoft.Authorization/roleDefinitions"))
    assert sender["properties"]["permissions"] == [
        {
            "actions": [
                "Microsoft.Communication/CommunicationServices/Read",
                "Microsoft.Communication/EmailServices/write",
            ],
            "notActions": [],
        }
    ]
    # changed by issue 16: one assignment per storage service instead of three on the whole account,
    # and Monitoring Metrics Publisher on App Insights (its local auth is off); since issue 18 also the
    # deploying admin's Storage Table Data Reader (tests/test_deploy.py), not the app's identity
    assignments = dict(resources(infra, "Microsoft.Authorization/roleAssignments"))
    assert sorted(assignments) == [
        "blobOwner",
        "emailSenderAssignment",
        "metricsPublisher",
        "queueContributor",
        "tableContributor",
        "tableReader",
    ]
    assert assignments["metricsPublisher"]["scope"] == "appInsights"
    assert assignments["emailSenderAssignment"]["scope"] == "communication"
    assert assignments["tableReader"]["scope"] == assignments["tableContributor"]["scope"]  # the table service
    assert identity_problems(infra, INFRA) == []

    graph = infra["modules/graph-roles.bicep"]
    # changed by issue 16: no Directory.Read.All; List signIns needs AuditLog.Read.All alone
    assert graph["variables"]["graphRoles"]["value"] == [
        "AuditLog.Read.All",
        "User.Read.All",
        "Application.Read.All",
        "Policy.Read.All",
    ]
    exchange = graph["resources"]["exchangeManageAsApp"]
    assert exchange["type"] == "Microsoft.Graph/appRoleAssignedTo"
    assert exchange["config"]["condition"] == "collectDevices"
    assert graph["extensions"], "the Microsoft Graph extension must be declared"
    config = json.loads((INFRA / "bicepconfig.json").read_text())
    assert config["extensions"]["microsoftGraphV1"].startswith(
        "br:mcr.microsoft.com/bicep/extensions/microsoftgraph/v1.0:"
    )


def test_flex_consumption_python_311_and_azd_wiring(infra: dict[str, dict[str, Any]]) -> None:
    ((_, plan),) = list(resources(infra, "Microsoft.Web/serverfarms"))
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    ((_, site),) = list(resources(infra, "Microsoft.Web/sites"))
    assert site["properties"]["functionAppConfig"]["runtime"] == {"name": "python", "version": "3.11"}
    assert site["identity"]["type"] == "UserAssigned"
    azure_yaml = (ROOT / "azure.yaml").read_text()
    assert "host: function" in azure_yaml and "monitor:" in azure_yaml
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["notifyMode"]["value"] == "${LAM_NOTIFY_MODE=dry-run}"


def test_our_identity_rules_catch_each_weakening(tmp_path: Path) -> None:
    """A copy of infra/ with each issue-16 fix undone: every one must be named."""
    copy = tmp_path / "infra"
    shutil.copytree(INFRA, copy)
    edits = {
        "modules/graph-roles.bicep": [("'User.Read.All' //", "'Directory.Read.All'\n  'User.Read.All' //")],
        "modules/communication.bicep": [("disableLocalAuth: true", "disableLocalAuth: false")],
        "modules/roles.bicep": [
            ("scope: storage::tableService", "scope: storage"),
            ("scope: appInsights", "scope: communication"),
        ],
        "modules/admin-auth.bicep": [("appRoleAssignmentRequired: true", "appRoleAssignmentRequired: false")],
        "modules/functionapp.bicep": [
            ("requireAuthentication: true", "requireAuthentication: false"),
            ("excludedPaths: ['/api/keyed/*']", "excludedPaths: ['/api/*']"),
            ("unauthenticatedClientAction: 'RedirectToLoginPage'", "unauthenticatedClientAction: 'AllowAnonymous'"),
        ],
    }
    for name, changes in edits.items():
        path = copy / name
        text = path.read_text()
        for old, new in changes:
            assert old in text, (name, old)
            text = text.replace(old, new)
        path.write_text(text)
    problems = identity_problems(parse_folder(copy), copy)
    assert problems == [
        "storageTableDataContributor: scope it to the tableService, not the whole storage account",
        "monitoringMetricsPublisher: the identity needs it on App Insights (local auth is off)",
        "communication communication: disableLocalAuth must be true (the app sends with its identity)",
        "admin views: Entra ID sign-in (authsettingsV2, requireAuthentication) is missing",
        "admin views: sign-in must leave out /api/keyed/* alone (the function-key door)",
        "admin views: a request without sign-in must be sent to sign in or refused",
        "admin views: adminPrincipal must require assignment, or everyone in the tenant can sign in",
        "Graph role Directory.Read.All: broader than needed (least privilege)",
        "Graph role Directory.Read.All: say why it is needed, on its line",
    ]
