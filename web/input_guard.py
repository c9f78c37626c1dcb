"""Malformed input is refused at the edge, before a view or the database sees it, with a 400 in the
user's language: NUL bytes anywhere (PostgreSQL rejects them in text), JSON that is not one object,
nested too deep, with numbers no column holds, or not UTF-8; path ids beyond a database integer; bodies
larger than the route accepts (uploads get DIEMCAU_MAX_UPLOAD_MB, everything else MAX_REQUEST_BYTES).

The schemas of the JSON API (web/schemas.py) check each field's type and range after this."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, request
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from orchestrator import core

# Ids are PostgreSQL `integer` columns.
DB_INT_MAX = 2**31 - 1
# Integers a browser's JSON (a double) carries exactly; anything larger is not a count or an id here.
JSON_INT_MAX = 2**53
MAX_JSON_DEPTH = 32
# Bodies of non-upload routes: forms and JSON, the transcript editor's longest save included.
MAX_REQUEST_BYTES = 8 * 1024 * 1024


class BadInput(BadRequest):
    """A 400 whose message the error handler shows as it is (already in the user's language)."""

    def __init__(self, message: str, code: str = "bad_input"):
        super().__init__(message)
        self.code_name = code


class BoundedIntConverter(IntegerConverter):
    """`<int:id>` that matches only what fits a database integer: a larger id is a 404, not a 500."""

    def __init__(self, map, *args: Any, **kwargs: Any) -> None:  # noqa: A002 - werkzeug's signature
        kwargs.setdefault("max", DB_INT_MAX)
        super().__init__(map, *args, **kwargs)


def db_int(value: str) -> int:
    """`request.args.get(name, type=db_int)`: a non-negative database integer, else ValueError (→ default)."""
    number = int(value)
    if not 0 <= number <= DB_INT_MAX:
        raise ValueError("out of range")
    return number


def accepts_upload(view: Callable) -> Callable:
    """Mark a view that receives files: its body may be as large as DIEMCAU_MAX_UPLOAD_MB."""
    view.accepts_upload = True  # type: ignore[attr-defined]
    return view


def _nul() -> BadInput:
    return BadInput(_("The request contains a character that is not allowed (a NUL byte). "
                      "Remove it and try again."), "nul_byte")


def _check_text(value: str) -> None:
    if "\x00" in value:
        raise _nul()


def check_json_value(data: Any) -> None:
    """Depth, NUL bytes and number ranges of parsed JSON, without recursion."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadInput(_("The data is nested too deeply."), "json_too_deep")
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if abs(value) > JSON_INT_MAX:
                raise BadInput(_("A number in the data is out of range."), "number_out_of_range")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise BadInput(_("A number in the data is out of range."), "number_out_of_range")
        elif isinstance(value, dict):
            for key, item in value.items():
                _check_text(key)
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


def _check_json_body() -> None:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return
    try:
        data = request.get_json()  # Flask keeps the parsed body: the view's get_json() does not parse it again
    except RecursionError:
        raise BadInput(_("The data is nested too deeply."), "json_too_deep") from None
    except BadRequest:  # not JSON, or not UTF-8
        raise BadInput(_("The data sent is not valid JSON."), "invalid_json") from None
    if not isinstance(data, dict):
        raise BadInput(_("The data sent must be a JSON object."), "json_not_object")
    check_json_value(data)


def guard_request() -> None:
    view = _view()
    if view is not None and getattr(view, "accepts_upload", False):
        request.max_content_length = core.settings().max_upload_bytes
    for value in (request.view_args or {}).values():
        if isinstance(value, str):
            _check_text(value)
    for key, value in request.args.items(multi=True):
        _check_text(key)
        _check_text(value)
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.is_json:
        _check_json_body()
    elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for key, value in request.form.items(multi=True):
            _check_text(key)
            _check_text(value)
        for key, file in request.files.items(multi=True):
            _check_text(key)
            _check_text(file.filename or "")


def _view() -> Callable | None:
    return current_app.view_functions.get(request.endpoint) if request.endpoint else None


def init_app(app: Flask) -> None:
    """Called before CSRF protection registers its own check: that check reads the form, so the
    body's limit must be set first."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.before_request(guard_request)
