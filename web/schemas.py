"""Schemas of the JSON API's bodies (pydantic, strict: a string is not a number, "1,2,3" is not a list).
A body that does not fit answers 400 naming the field, in the user's language; the rules of the domain
(times in the future, conflicts…) stay in orchestrator and come after."""
from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from flask import request
from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from orchestrator.scheduling import EARLIEST_YEAR, LATEST_YEAR, parse_local

from .input_guard import DB_INT_MAX, BadInput

DbId = Annotated[int, Field(ge=1, le=DB_INT_MAX)]
MAX_SITES = 20000  # a whole province's communes, with room to spare

Model = TypeVar("Model", bound=BaseModel)


class Body(BaseModel):
    # Unknown keys are ignored (a client may send back what it read); known ones must have their type.
    model_config = ConfigDict(strict=True, extra="ignore", str_strip_whitespace=True)


def _local_time(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    if parse_local(value) is None:
        raise ValueError("not a time")
    return value


class EventBody(Body):
    kind: Literal["conference", "report"] = "conference"
    title: str = Field("", max_length=300)
    description: str = Field("", max_length=20000)
    starts_at: str | None = Field(None, max_length=40)
    ends_at: str | None = Field(None, max_length=40)
    series_id: DbId | None = None
    new_series: str = Field("", max_length=200)
    host_site_id: DbId | None = None
    speaker_id: DbId | None = None
    studio_site_id: DbId | None = None
    site_ids: list[DbId] | None = Field(None, max_length=MAX_SITES)
    confidential: bool = False
    language: str = Field("vi", max_length=10)
    monthly_count: int = Field(1, ge=1, le=24)
    override: bool = False

    _times = field_validator("starts_at", "ends_at")(_local_time)


class SeriesBody(Body):
    name: str = Field("", max_length=200)
    description: str = Field("", max_length=2000)


class ParticipantBody(Body):
    site_id: DbId | None = None
    code: str | None = Field(None, max_length=64)
    override: bool = False


def _reason(error: dict[str, Any]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return _("is required")
    if kind in ("string_too_long", "too_long"):
        return _("is too long (%(max)s at most)", max=ctx.get("max_length", "?"))
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return _("is out of range")
    if kind.startswith("int") or kind == "int_type":
        return _("must be a whole number")
    if kind.startswith("bool"):
        return _("must be true or false")
    if kind.startswith("list"):
        return _("must be a list")
    if kind.startswith("string"):
        return _("must be text")
    if kind == "literal_error":
        return _("must be one of: %(choices)s", choices=ctx.get("expected", ""))
    if kind == "value_error":
        return _("must be a date and time between the years %(first)s and %(last)s",
                 first=EARLIEST_YEAR, last=LATEST_YEAR)
    return _("is not valid")


def parse_body(model: type[Model]) -> Model:
    """The request's JSON body (an empty one is `{}`) checked against `model`, else BadInput (400)."""
    body = request.get_json(silent=True)
    try:
        return model.model_validate(body if isinstance(body, dict) else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise BadInput(_("The field «%(field)s» %(reason)s.", field=field, reason=_reason(first)),
                       "invalid_field") from None
