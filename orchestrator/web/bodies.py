"""The base of every JSON request body, and the values bodies and query strings share (pydantic,
no HTTP: services validate with them too)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_ROW_ID = 2**31 - 1
"""Row ids are INTEGER columns: 32 bits on PostgreSQL. A larger id names no row."""

RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
"""The id of a row (a session, an agency, a user...)."""

FIRST_YEAR, LAST_YEAR = 1900, 2100
"""The years a time of ours may fall in: beyond them no session was or will be held, and the
edges of Python's calendar (years 1 and 9999) cannot be moved to another time zone."""

D = TypeVar("D", date, datetime)


def _in_our_years(value: D) -> D:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"năm phải từ {FIRST_YEAR} đến {LAST_YEAR}")
    return value


CalendarDate = Annotated[date, AfterValidator(_in_our_years)]
"""A date between :data:`FIRST_YEAR` and :data:`LAST_YEAR`."""

CalendarTime = Annotated[datetime, AfterValidator(_in_our_years)]
"""A time between :data:`FIRST_YEAR` and :data:`LAST_YEAR` (naive or with its offset)."""


class RequestBody(BaseModel):
    """Base of every request body: unknown fields are refused, text is stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
