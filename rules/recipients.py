"""Who is told about a sender: the person about their own app; for a device, an application, a shared or
service account, its owner (the admin's owner map), else its manager in Entra ID, else nobody by email and
the admin's digest lists it as "owner unknown". The sender account itself is never the only recipient:
a scanner's mailbox is one nobody reads. Pure: the managers are looked up before, by the notify step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from core.records import DirectoryUser, UserState
from rules import senders
from rules.owners import OWNED_KINDS

Role = Literal["user", "owner", "manager", "unknown", "nobody"]


@dataclass(frozen=True)
class Recipient:
    role: Role
    who: DirectoryUser | None = None


def needs_owner(state: UserState) -> bool:
    """A sender whose owner, not the account, must act (device, application, shared or service account)."""
    return senders.kind_of(state.verdict) in OWNED_KINDS


def recipient_for(
    state: UserState, owners: Mapping[str, str], managers: Mapping[str, DirectoryUser] | None = None
) -> Recipient:
    """``owners``: casefolded UPN → owner address (LAM_SENDER_OWNERS); ``managers``: user id → manager."""
    kind = senders.kind_of(state.verdict)
    if kind == "attack":
        return Recipient("nobody")
    if not needs_owner(state):
        return Recipient("user", state.directory)
    upn = state.upn.casefold()
    owner = owners.get(upn)
    if owner and owner.casefold() != upn:
        return Recipient("owner", DirectoryUser(id=f"owner:{owner}", upn=owner, display_name="", mail=owner))
    manager = (managers or {}).get(state.user_id)
    if manager is not None and manager.mail and manager.id != state.user_id:
        return Recipient("manager", manager)
    return Recipient("unknown")
