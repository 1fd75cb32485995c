"""Bodies of the accounts API: users, reception offices, the signed-in user."""

from __future__ import annotations

from pydantic import BaseModel, Field

from orchestrator.core.vocabulary import Role, Tier
from orchestrator.web.bodies import RequestBody, RowId


class UserCreate(RequestBody):
    """A new user account (admin only)."""

    username: str = Field(min_length=3, max_length=100, pattern=r"^[a-z0-9._-]+$")
    display_name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=10, max_length=200)
    role: Role
    agency_id: RowId
    cleared: bool = False


class UserUpdate(RequestBody):
    """An admin's change to a user's rights; absent fields stay as they are. Any change ends
    every session of that user."""

    role: Role | None = None
    agency_id: int | None = None
    cleared: bool | None = None
    active: bool | None = None


class PasswordChange(RequestBody):
    """A user's new password, with the current one as proof (it is not stripped: spaces count)."""

    model_config = RequestBody.model_config | {"str_strip_whitespace": False}

    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=10, max_length=200)


class UserOut(BaseModel):
    """A user account, without secrets."""

    id: int
    username: str
    display_name: str
    role: Role
    agency_id: int
    cleared: bool
    active: bool


class MeOut(BaseModel):
    """The signed-in user, and the CSRF token a cookie-authenticated page must send back."""

    user: UserOut
    csrf_token: str | None


class AgencyCreate(RequestBody):
    """A new reception office (admin only)."""

    name: str = Field(min_length=1, max_length=200)
    tier: Tier
    province_code: str = Field(min_length=2, max_length=32)
    parent_id: RowId | None = None


class AgencyOut(BaseModel):
    """A reception office."""

    id: int
    name: str
    tier: Tier
    province_code: str
    parent_id: int | None
