"""Tenant readiness beyond the Apple app: can users consent themselves, and is legacy auth blocked by CA?"""

from __future__ import annotations

from msgraph.generated.identity.conditional_access.policies.policies_request_builder import PoliciesRequestBuilder
from msgraph.generated.policies.authorization_policy.authorization_policy_request_builder import (
    AuthorizationPolicyRequestBuilder,
)

from collectors.graph import GraphClient, GraphError
from core.records import ConsentPolicy, LegacyBlockPolicy
from rules.readiness import blocks_legacy_for_everyone

# Only the legacy default lets users consent to any app; "-low" covers low-impact permissions from
# verified publishers, which full mailbox access (EAS.AccessAsUser.All) is not.
USER_CONSENT_TO_ANY_APP = "ManagePermissionGrantsForSelf.microsoft-user-default-legacy"
NEEDS = "grant the monitor's identity Policy.Read.All to check this"


async def check_user_consent(graph: GraphClient) -> ConsentPolicy:
    request = AuthorizationPolicyRequestBuilder(graph.adapter("v1.0"), {}).to_get_request_information()
    try:
        body = await graph.get_object("v1.0", request)
    except GraphError as exc:
        if exc.status in (401, 403):
            return ConsentPolicy(users_can_consent=None, problem=f"{exc.code}: {NEEDS}")
        raise
    policy = body["value"][0] if isinstance(body.get("value"), list) and body["value"] else body
    permissions = policy.get("defaultUserRolePermissions") if isinstance(policy, dict) else None
    assigned = permissions.get("permissionGrantPoliciesAssigned") if isinstance(permissions, dict) else None
    names = tuple(a for a in assigned or () if isinstance(a, str))
    return ConsentPolicy(users_can_consent=USER_CONSENT_TO_ANY_APP in names, policies=names)


async def check_legacy_block(graph: GraphClient) -> LegacyBlockPolicy:
    first = PoliciesRequestBuilder(graph.adapter("v1.0"), {}).to_get_request_information()
    blocking: list[str] = []
    report_only: list[str] = []
    try:
        async for page in graph.pages("v1.0", first):
            for policy in page.get("value") or []:
                if isinstance(policy, dict) and blocks_legacy_for_everyone(policy):
                    name = str(policy.get("displayName") or policy.get("id") or "unnamed policy")
                    state = policy.get("state")
                    if state == "enabled":
                        blocking.append(name)
                    elif state == "enabledForReportingButNotEnforced":
                        report_only.append(name)
    except GraphError as exc:
        if exc.status in (401, 403):
            return LegacyBlockPolicy(blocking=(), readable=False, problem=f"{exc.code}: {NEEDS}")
        raise
    return LegacyBlockPolicy(blocking=tuple(blocking), report_only=tuple(report_only))
