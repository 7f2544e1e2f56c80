"""A deployment an admin can check (issue 18): every parameter settable with `azd env set`, read access to
the state for the deploying admin, the dashboard URL printed, docs/deploy.md naming what it uses."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from pipeline.settings import load_settings
from tests.infra_rules import ROOT, parse_folder, resources

INFRA = ROOT / "infra"
STORAGE_TABLE_DATA_READER = "76199698-9eea-4c19-bc75-cec21354c6b6"
"""Azure built-in role id (Microsoft Learn, "Azure built-in roles": Storage Table Data Reader)."""
FROM_AZD = {
    "environmentName": "${AZURE_ENV_NAME}",
    "location": "${AZURE_LOCATION}",
    "adminPrincipalId": "${AZURE_PRINCIPAL_ID}",
}
"""Parameters azd fills itself: the environment, the region, and the signed-in user's object id."""


@pytest.fixture(scope="module")
def infra() -> dict[str, dict[str, Any]]:
    return parse_folder(INFRA)


def azd_parameters() -> dict[str, str]:
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    return {name: spec["value"] for name, spec in parameters.items()}


def test_every_parameter_is_settable_with_azd_env_set_and_defaults_to_the_template(
    infra: dict[str, dict[str, Any]],
) -> None:
    declared = infra["main.bicep"]["parameters"]
    given = azd_parameters()
    assert set(given) == set(declared)
    for name, spec in declared.items():
        if name in FROM_AZD:
            assert given[name] == FROM_AZD[name]
            continue
        found = re.fullmatch(r"\$\{(LAM_[A-Z0-9_]+)=(.*)\}", given[name])
        assert found, f"{name}: {given[name]!r} is not ${{LAM_…=default}}"
        default = spec["default"]
        expected = ("true" if default else "false") if isinstance(default, bool) else str(default)
        assert found.group(2) == expected, f"{name}: azd's default {found.group(2)!r}, the template's {expected!r}"
    for wanted in ("LAM_ALLOWED_RECIPIENTS", "LAM_DIGEST_RECIPIENTS", "LAM_CONTACT_LINE", "LAM_DEFAULT_LOCALE"):
        assert any(value.startswith("${" + wanted + "=") for value in given.values()), wanted


def test_the_deploying_admin_may_read_the_state_tables_and_nothing_more(infra: dict[str, dict[str, Any]]) -> None:
    module = infra["main.bicep"]["modules"]["adminAccess"]
    assert module["detail"]["path"] == "modules/admin-access.bicep"
    assert "adminPrincipalId" in json.dumps(module["config"]["condition"])  # no id, no assignment
    admin = infra["modules/admin-access.bicep"]
    assert admin["variables"]["storageTableDataReader"]["value"] == STORAGE_TABLE_DATA_READER
    ((_, assignment),) = list(resources({"a": admin}, "Microsoft.Authorization/roleAssignments"))
    # the table service of the one storage account (issue 16's rule: each role on what needs it)
    accessor = assignment["scope"]["operator"]
    assert (accessor["type"], accessor["operands"]) == (
        "nested_resource_accessor",
        {"operand_1": "storage", "operand_2": "tableService"},
    )
    assert "storageTableDataReader" in json.dumps(assignment["properties"]["roleDefinitionId"])


def test_azd_up_prints_the_dashboard_url_and_the_cli_settings(infra: dict[str, dict[str, Any]]) -> None:
    outputs = infra["main.bicep"]["outputs"]
    for name in ("DASHBOARD_URL", "LAM_TENANT_ID", "LAM_TABLES_ENDPOINT", "APPLICATIONINSIGHTS_NAME"):
        assert name in outputs
    assert "/api/dashboard" in json.dumps(outputs["DASHBOARD_URL"]["value"])
    azure_yaml = (ROOT / "azure.yaml").read_text()
    hook = azure_yaml[azure_yaml.index("postdeploy:") :]
    assert 'echo "Dashboard: ${DASHBOARD_URL}' in hook and "$($env:DASHBOARD_URL)" in hook
    assert "LAM_TABLES_ENDPOINT=${LAM_TABLES_ENDPOINT}" in hook


def test_deploy_md_names_what_an_admin_needs(infra: dict[str, dict[str, Any]]) -> None:
    doc = (ROOT / "docs" / "deploy.md").read_text()
    outputs = infra["main.bicep"]["outputs"]
    for output in re.findall(r"azd env get-value ([A-Z_]+)", doc):
        assert output in outputs, f"docs/deploy.md reads {output}, which the template does not output"
    for function in re.findall(r"/admin/functions/([a-z_]+)", doc):
        timers = (ROOT / "blueprints" / "timers.py").read_text()
        assert f"def {function}(" in timers, f"docs/deploy.md triggers {function}, which is no function"
    for name in re.findall(r"azd env set (LAM_[A-Z_]+)", doc):
        assert any(v.startswith("${" + name + "=") for v in azd_parameters().values()), name
    assert "Storage Table Data Reader" in doc and "AppTraces" in doc


def test_the_cli_settings_in_deploy_md_are_enough_to_read_the_state() -> None:
    """The exports of *Check your first run*, with the values azd would give, load as settings."""
    doc = (ROOT / "docs" / "deploy.md").read_text()
    exported = dict(re.findall(r'^export (LAM_[A-Z_]+)="?([^"\n]*)"?$', doc, re.M))
    assert set(exported) == {"LAM_TENANT_ID", "LAM_TABLES_ENDPOINT", "LAM_SENDER_ADDRESS", "LAM_GRAPH_AUTH"}
    from_azd = {
        "LAM_TENANT_ID": "5b1d7a0e-3c39-4f0e-9a8e-4d2c6f1b7a90",
        "LAM_TABLES_ENDPOINT": "https://stlamexample.table.core.windows.net/",
        "SENDER_ADDRESS": "DoNotReply@0a1b2c3d.europe.azurecomm.net",
    }
    env = {}
    for name, value in exported.items():
        asked = re.fullmatch(r"\$\(azd env get-value ([A-Z_]+)\)", value)
        if asked:
            assert asked.group(1) in parse_folder(INFRA)["main.bicep"]["outputs"]
        env[name] = from_azd[asked.group(1)] if asked else value
    settings = load_settings(env)
    assert settings.tables_endpoint == from_azd["LAM_TABLES_ENDPOINT"].rstrip("/") and settings.graph_auth == "default"
