"""Why a request body or query string was refused, said in Vietnamese.

pydantic explains each refused field in English; the people reading our problem documents read
Vietnamese. Each error type pydantic reports for our bodies and queries has its sentence here;
a type without one keeps pydantic's words (the field it concerns is still named).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

_PLAIN: Mapping[str, str] = {
    "missing": "thiếu trường bắt buộc",
    "extra_forbidden": "trường này không được phép",
    "int_parsing": "phải là số nguyên",
    "int_type": "phải là số nguyên",
    "int_from_float": "phải là số nguyên",
    "float_parsing": "phải là số",
    "float_type": "phải là số",
    "bool_parsing": "phải là true hoặc false",
    "bool_type": "phải là true hoặc false",
    "string_type": "phải là chuỗi ký tự",
    "list_type": "phải là một danh sách",
    "dict_type": "phải là một đối tượng JSON",
    "model_type": "phải là một đối tượng JSON",
    "model_attributes_type": "phải là một đối tượng JSON",
    "date_parsing": "cần một ngày dạng 2026-07-01",
    "date_from_datetime_parsing": "cần một ngày dạng 2026-07-01",
    "date_type": "cần một ngày dạng 2026-07-01",
    "datetime_parsing": "cần thời điểm dạng 2026-07-01T08:00:00+07:00",
    "datetime_from_date_parsing": "cần thời điểm dạng 2026-07-01T08:00:00+07:00",
    "datetime_type": "cần thời điểm dạng 2026-07-01T08:00:00+07:00",
    "json_invalid": "không phải JSON hợp lệ",
    "recursion_loop": "lồng nhau quá sâu",
}

_WITH_CONTEXT: Mapping[str, Callable[[Mapping[str, Any]], str]] = {
    "greater_than_equal": lambda c: f"phải lớn hơn hoặc bằng {c['ge']}",
    "greater_than": lambda c: f"phải lớn hơn {c['gt']}",
    "less_than_equal": lambda c: f"phải nhỏ hơn hoặc bằng {c['le']}",
    "less_than": lambda c: f"phải nhỏ hơn {c['lt']}",
    "string_too_short": lambda c: f"cần ít nhất {c['min_length']} ký tự",
    "string_too_long": lambda c: f"nhiều nhất {c['max_length']} ký tự",
    "string_pattern_mismatch": lambda c: f"không đúng dạng {c['pattern']}",
    "too_short": lambda c: f"cần ít nhất {c['min_length']} phần tử",
    "too_long": lambda c: f"nhiều nhất {c['max_length']} phần tử",
    "enum": lambda c: f"phải là một trong: {c['expected']}",
    "literal_error": lambda c: f"phải là một trong: {c['expected']}",
    # Our own validators raise ValueError with a Vietnamese message already.
    "value_error": lambda c: str(c["error"]),
}


def field_message(error: ErrorDetails) -> str:
    """One refused field, in Vietnamese: ``where: why``."""
    where = ".".join(str(p) for p in error["loc"]) or "nội dung"
    kind, context = error["type"], error.get("ctx", {})
    if kind in _PLAIN:
        why = _PLAIN[kind]
    elif kind in _WITH_CONTEXT:
        why = _WITH_CONTEXT[kind](context)
    else:
        why = error["msg"]
    return f"{where}: {why}"


def validation_detail(error: ValidationError) -> str:
    """The ``detail`` of a problem document for a refused body or query string."""
    return "Dữ liệu không hợp lệ — " + "; ".join(field_message(e) for e in error.errors())
