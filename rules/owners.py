"""Whose account a legacy sign-in is, as the admin reads it: the kind of sender and the owner to chase.

An SMTP AUTH verdict names its kind (rules/senders.py). Any other tracked account is a person's own mail
app (the EAS rules mail the person), or an attack when its status says so. The owner shown is the one in
the owner map (LAM_SENDER_OWNERS), else whoever the monitor told about the account (its manager in Entra
ID), else "owner unknown"; a person owns their own app, and nobody owns an attack. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from core.records import UserState
from rules import senders
from rules.protocols import SenderKind

OWNER_UNKNOWN = "owner unknown"
NOBODY = "nobody (attack)"
OWNED_KINDS: frozenset[SenderKind] = frozenset({"device", "application", "shared"})


def account_kind(state: UserState) -> SenderKind:
    """The sender kind of any tracked account (SMTP AUTH verdicts name theirs; the rest are people's apps)."""
    kind = senders.kind_of(state.verdict)
    if kind is not None:
        return kind
    return "attack" if state.verdict.status == "attack_suspected" else "person"


def owner_of(state: UserState, owners: Mapping[str, str], told: Iterable[str] = ()) -> str:
    """``owners``: casefolded UPN → owner address; ``told``: who the ledger says was mailed, oldest first."""
    kind, upn = account_kind(state), state.upn
    if kind == "attack":
        return NOBODY
    if kind not in OWNED_KINDS:
        return upn
    mapped = owners.get(upn.casefold())
    if mapped:
        return mapped
    others = [address for address in told if address.casefold() != upn.casefold()]
    return f"{others[-1]} (manager)" if others else OWNER_UNKNOWN


def owner_address(owner: str) -> str:
    """The address in an owner label ("dana@x (manager)" → "dana@x"); the label itself when it has none."""
    return owner.removesuffix(" (manager)")
