"""The query string of the archive search (``GET /api/v1/search`` and the search page): what it
declares in the OpenAPI document is what the search enforces."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from orchestrator.core.vocabulary import SessionKind
from orchestrator.search.indexer import CASE_CLASSIFICATIONS
from orchestrator.search.query import MAX_QUERY_CHARS
from orchestrator.search.service import MAX_PER_PAGE
from orchestrator.web.bodies import CalendarDate, RowId

CaseClassification = StrEnum("CaseClassification", {code: code for code in CASE_CLASSIFICATIONS})  # type: ignore[misc]
_FILTER_VALUE = r"^[a-z0-9_-]+$"


class SearchQuery(BaseModel):
    """Words (``q``) and filters (the search page leaves out the empty fields its form sends)."""

    q: str = Field(default="", max_length=MAX_QUERY_CHARS)
    exact: bool = False
    province: str | None = Field(default=None, max_length=32, pattern=_FILTER_VALUE)
    agency_id: RowId | None = None
    date_from: CalendarDate | None = Field(default=None, alias="from")
    date_to: CalendarDate | None = Field(default=None, alias="to")
    kind: SessionKind | None = None
    role: str | None = Field(default=None, max_length=32, pattern=_FILTER_VALUE)
    speaker: str | None = Field(default=None, max_length=200)
    case: CaseClassification | None = None
    session_id: RowId | None = None
    sort: Literal["relevance", "date"] = "relevance"
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=20, ge=1, le=MAX_PER_PAGE)

    @model_validator(mode="after")
    def _from_before_to(self) -> SearchQuery:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("Ngày bắt đầu (from) phải trước ngày kết thúc (to).")
        return self
