"""Who is using the reviewer app, and what their role lets them do.

With an OpenID Connect provider configured (Streamlit's `st.login`), the identity is the provider's subject
and name; without one the app runs in a clearly labelled single-user mode on this machine.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from drafter.settings import AuthSettings

Role = Literal["reviewer", "qa_lead", "admin"]

ROLE_LABEL = {"reviewer": "Reviewer", "qa_lead": "QA lead", "admin": "Admin"}


class Identity(BaseModel):
    """A signed-in user (or the single local user). `id` is what audit rows carry."""

    id: str
    name: str
    email: str = ""
    role: Role = "reviewer"
    single_user: bool = False

    @property
    def label(self) -> str:
        return f"{self.name} ({ROLE_LABEL[self.role]})"

    def can_edit(self, owner_id: str | None) -> bool:
        """Reviewers change their own cases only; QA leads read all cases but change none."""
        return self.role in ("reviewer", "admin") and owner_id == self.id

    def can_read(self, owner_id: str | None) -> bool:
        return self.role in ("qa_lead", "admin") or owner_id == self.id

    @property
    def can_admin(self) -> bool:
        return self.role == "admin"

    @property
    def can_see_evals(self) -> bool:
        return self.role in ("qa_lead", "admin")


def role_for(subject: str, email: str, auth: AuthSettings) -> Role:
    keys = {subject.lower(), email.lower()} - {""}
    if keys & {a.lower() for a in auth.admins}:
        return "admin"
    if keys & {q.lower() for q in auth.qa_leads}:
        return "qa_lead"
    return "reviewer"


def from_claims(claims: dict, auth: AuthSettings) -> Identity:
    """The identity of an OIDC user from the ID token's claims (as Streamlit's st.user exposes them)."""
    sub = str(claims.get("sub") or "")
    if not sub:
        raise ValueError("the identity provider returned no subject ('sub') claim")
    email = str(claims.get("email") or "")
    name = str(claims.get("name") or claims.get("preferred_username") or email or sub)
    issuer = str(claims.get("iss") or "oidc")
    return Identity(id=f"{issuer}|{sub}", name=name, email=email, role=role_for(sub, email, auth))


def single_user(auth: AuthSettings) -> Identity:
    """The one local user of the embedded default: an admin of their own machine."""
    return Identity(id="local", name=auth.single_user_name, role="admin", single_user=True)
