"""The demo's reception offices and people, created once and reused by later runs."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.accounts.schemas import UserCreate
from orchestrator.accounts.service import new_user, set_password
from orchestrator.cli.demo.script import (
    CENTRAL,
    CHAIR,
    CITIZEN,
    COMMUNE_POINT,
    OFFICER,
    PROVINCE_CODE,
    PROVINCE_OFFICE,
)
from orchestrator.core.credentials import new_api_token
from orchestrator.core.vocabulary import Role, Tier
from orchestrator.db.models import Agency, ApiToken, User

# Printed at the end so the person running the demo can sign in; only ever a local demo account.
DEMO_PASSWORD = "tiepdan-demo-2026"
ARCHIVIST = "archivist"


@dataclass(frozen=True)
class DemoUser:
    """A demo account: its cast key, sign-in name, full name, role and office (province or
    central)."""

    key: str
    username: str
    display_name: str
    role: Role
    central: bool


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser(CHAIR, "chutri.ninhbinh", "Ông Trần Văn Minh (chủ trì)", Role.CHAIR, False),
    DemoUser(OFFICER, "canbo.ninhbinh", "Bà Lê Thị Lan (cán bộ tiếp dân)", Role.OFFICER, False),
    DemoUser(ARCHIVIST, "luutru.ninhbinh", "Ông Phạm Quốc Huy (lưu trữ)", Role.ARCHIVIST, False),
    DemoUser(
        CENTRAL, "quansat.trunguong", "Ban Tiếp công dân Trung ương", Role.CENTRAL_OBSERVER, True
    ),  # fmt: skip
)
CITIZEN_NAME = "Bà Nguyễn Thị Hoa"
"""The citizen, invited with a personal join link at the commune connection point."""
assert CITIZEN not in {u.key for u in DEMO_USERS}


@dataclass(frozen=True)
class DemoWorld:
    """Ids of the demo's offices and users, and a fresh bearer token for each user."""

    province_agency: int
    commune_agency: int
    central_agency: int
    users: dict[str, int]
    tokens: dict[str, str]


async def _agency(db: AsyncSession, name: str, tier: Tier, code: str, parent: int | None) -> int:
    found = await db.scalar(select(Agency.id).where(Agency.name == name))
    if found is not None:
        return int(found)
    agency = Agency(name=name, tier=tier, province_code=code, parent_id=parent)
    db.add(agency)
    await db.flush()
    return agency.id


async def seed(db: AsyncSession) -> DemoWorld:
    """Create what is missing (offices, users), reset the demo password, issue new tokens."""
    central = await db.scalar(select(Agency.id).where(Agency.tier == Tier.CENTRAL))
    assert central is not None, "the central committee comes with the reference data migration"
    province = await _agency(db, PROVINCE_OFFICE, Tier.PROVINCE, PROVINCE_CODE, None)
    commune = await _agency(db, COMMUNE_POINT, Tier.COMMUNE, PROVINCE_CODE, province)
    users: dict[str, int] = {}
    tokens: dict[str, str] = {}
    for spec in DEMO_USERS:
        user = await db.scalar(select(User).where(User.username == spec.username))
        if user is None:
            user = new_user(
                UserCreate(
                    username=spec.username,
                    display_name=spec.display_name,
                    password=DEMO_PASSWORD,
                    role=spec.role,
                    agency_id=central if spec.central else province,
                )  # fmt: skip
            )
            db.add(user)
            await db.flush()
        else:
            set_password(user, DEMO_PASSWORD)
            user.active = True
        token, digest = new_api_token()
        db.add(ApiToken(user_id=user.id, token_sha256=digest, name="demo"))
        users[spec.key], tokens[spec.key] = user.id, token
    await db.commit()
    return DemoWorld(province, commune, int(central), users, tokens)
