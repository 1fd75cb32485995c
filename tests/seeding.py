"""People and places in a test's or a benchmark's own database: an API token for a user, and a
province with its chair (who holds one)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.accounts.schemas import UserCreate
from orchestrator.accounts.service import new_user
from orchestrator.core.credentials import new_api_token
from orchestrator.core.vocabulary import Role, Tier
from orchestrator.db.models import Agency, ApiToken, User


def token_for(db: AsyncSession, user: User, name: str) -> str:
    """Add an API token for ``user`` (flushed or committed by the caller); its bearer value."""
    token, digest = new_api_token()
    db.add(ApiToken(user_id=user.id, token_sha256=digest, name=name))
    return token


async def province_chair(
    db: AsyncSession, agency_name: str, username: str, display_name: str, password: str
) -> tuple[Agency, User, str]:
    """A Ninh Bình province office and its chair (cleared for restricted sessions), flushed, and
    the chair's API token."""
    agency = Agency(name=agency_name, tier=Tier.PROVINCE, province_code="ninh-binh")
    db.add(agency)
    await db.flush()
    chair = new_user(UserCreate(username=username, display_name=display_name, password=password,
                                role=Role.CHAIR, agency_id=agency.id, cleared=True))  # fmt: skip
    db.add(chair)
    await db.flush()
    return agency, chair, token_for(db, chair, "tests")
