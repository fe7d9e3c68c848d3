"""What the coordinator's API accepts, and the one rendering of what it refuses (422).

Bodies are parsed by pydantic's JSON parser from the raw bytes, so a literal `null` is a refused
body while an absent one means "the defaults"; dates are ISO text only. A refusal echoes the input
it refused made printable: a NaN, a lone surrogate or a huge integer cannot be encoded as they came.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, ValidationError

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_ERRORS = 10
_MAX_TEXT = 200
_MAX_ITEMS = 20
_MAX_DEPTH = 4
_INT64 = 2**63

M = TypeVar("M", bound=BaseModel)


def _iso_date_text(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    raise ValueError("a date is ISO 8601 text, YYYY-MM-DD")


# A date as text only: lax parsing would take 1796601600 (or "1796601600") as a Unix timestamp.
IsoDate = Annotated[date, BeforeValidator(_iso_date_text)]


def optional_body(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """A dependency: the body validated as ``model``; no body (or only whitespace) is ``model()``."""

    async def parse(request: Request) -> M:
        raw = await request.body()
        if not raw.strip():
            return model()
        try:
            return model.model_validate_json(raw)
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
            ) from None

    return parse


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI `requestBody` of an optional JSON body of ``model`` (for ``openapi_extra``)."""
    schema = {"application/json": {"schema": model.model_json_schema()}}
    return {"requestBody": {"required": False, "content": schema}}


def printable(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON can always encode it: text escaped and cut short, non-finite numbers and
    integers beyond 64 bits as text, containers cut to their first items."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else "an integer beyond 64 bits"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    if isinstance(value, str):
        return value[:_MAX_TEXT].encode("utf-8", "backslashreplace").decode("utf-8")
    if depth >= _MAX_DEPTH:
        return "..."
    if isinstance(value, dict):
        items = list(value.items())[:_MAX_ITEMS]
        return {str(printable(str(k))): printable(v, depth + 1) for k, v in items}
    if isinstance(value, list | tuple | set | frozenset):
        return [printable(v, depth + 1) for v in list(value)[:_MAX_ITEMS]]
    return printable(str(value))


def validation_error_response(exc: RequestValidationError) -> JSONResponse:
    """422 with what was wrong where: each error's location, message, type and (printable) input."""
    keys = ("loc", "msg", "type", "input", "ctx")
    errors = [{k: printable(e[k]) for k in keys if k in e} for e in exc.errors()[:_MAX_ERRORS]]
    return JSONResponse({"error": "invalid_request", "detail": errors}, status_code=422)
