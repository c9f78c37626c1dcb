"""A generated corpus of malformed requests against every route of the app, anonymous and logged in as
admin, technician and editor: NUL bytes, huge and negative numbers, year 0001/9999, wrong JSON types, a
JSON array body, JSON nested 10,000 deep, a 1 MB field, a 30 MB body, bytes that are not UTF-8, and a
broken session. None may answer 5xx; error pages and JSON errors speak the user's language (Vietnamese
by default)."""
from __future__ import annotations

import io
import json
import re
import time
from collections import Counter
from datetime import timedelta

import pytest
from flask.sessions import SecureCookieSessionInterface

from tests.conftest import login
from tests.orchestrator.test_scheduling_rules import future, make_tree

pytestmark = pytest.mark.filterwarnings("ignore")

HUGE = 2**70
FIELDS = ("title", "description", "starts_at", "ends_at", "site_ids", "monthly_count", "series_id", "host_site_id",
          "speaker_id", "studio_site_id", "confidential", "language", "override", "kind", "name", "site_id", "code",
          "floor", "discard", "cues", "base_version", "in_s", "out_s", "cuts", "reset", "start_s", "end_s", "mode",
          "attendance", "storage_key", "duration_s", "state", "glossary", "username", "password", "channels",
          "setting_site_url", "credentials_expire_at", "parent_id", "media_node_url", "capacity", "q", "new_series")
QUERY_KEYS = ("q", "limit", "parent", "root", "level", "within", "from", "to", "page", "token", "next", "series",
              "view", "date", "month", "week", "nocache", "rendition", "lang")
ONE_MB = "x" * (1024 * 1024)
THIRTY_MB = b"x" * (30 * 1024 * 1024)
DEEP_JSON = "[" * 10000 + "]" * 10000
# Vietnamese letters with diacritics: a Vietnamese message has at least one.
VIETNAMESE = re.compile("[àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ]", re.IGNORECASE)


@pytest.fixture(scope="module")
def world(app, make_user):
    """Real rows for the routes' ids, so handlers get past their 404s to the input they read."""
    from orchestrator.db import db
    from orchestrator.models import Asset, Event, EventStatus, Recording, Transcript
    from orchestrator.scheduling import EventInput, create_event

    t = make_tree()
    tech = make_user("technician")
    start = future(400)
    event = create_event(tech, EventInput(kind="conference", title="Hội nghị", starts_at=start,
                                          ends_at=start + timedelta(hours=1), host_site_id=t["P"].id,
                                          site_ids=[t["P"].id, t["D1"].id]))[0]
    report = Event(kind="report", title="Báo cáo", description="", status=EventStatus.READY.value,
                   created_by_id=tech.id)
    rec = Recording(event=report, source_key="recordings/x/source.mp4", original_filename="a.mp4", size_bytes=1,
                    duration_s=3.0, created_by_id=tech.id)
    db.session.add_all([report, rec])
    db.session.flush()
    # Converted and transcribed, so the cutting room and the transcript editor read their input.
    db.session.add_all([
        Asset(recording_id=rec.id, kind="mp4", storage_key=f"recordings/{rec.id}/media/download.mp4"),
        Transcript(recording_id=rec.id, language="vi", version=1, text="Xin chào",
                   cues=[{"start": 0.0, "end": 2.0, "text": "Xin chào"}]),
    ])
    db.session.commit()
    return {"event_id": event.id, "site_id": t["D1"].id, "recording_id": rec.id, "channel_id": 1, "doc_id": 1,
            "product_id": 1, "pub_id": 1, "number": 1, "instance_number": 0}


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def _path(rule, ids: dict, override: dict | None = None) -> str:
    values = {}
    for name, converter in rule._converters.items():
        if type(converter).__name__ in ("IntegerConverter", "BoundedIntConverter"):
            values[name] = ids.get(name, 1)
        else:
            values[name] = {"kind": "wordpress", "fmt": "png", "language": "vi", "stage": "transcode",
                            "code": "vi", "lang": "vi"}.get(name, "x")
    values.update(override or {})
    out = rule.rule
    for name, value in values.items():
        out = re.sub(rf"<(?:[^:<>]+:)?{name}>", str(value), out)
    return out


def _variants(rule, method: str, ids: dict):
    """(label, path, request kwargs) for one route and method; kwargs with files come as a factory (a
    sent file is closed)."""
    base = _path(rule, ids)
    int_params = [n for n, c in rule._converters.items() if type(c).__name__ != "UnicodeConverter"
                  and type(c).__name__ != "PathConverter"]
    str_params = [n for n, c in rule._converters.items() if n not in int_params]
    for name in int_params:
        for value in (2**31, 2**63, 99999999999999999999999999, -1):
            yield f"int {name}={value}", _path(rule, ids, {name: value}), {}
    for name in str_params:
        yield f"NUL in {name}", _path(rule, ids, {name: "a%00b"}), {}
        yield f"non-UTF-8 in {name}", _path(rule, ids, {name: "%FF%FE"}), {}
    yield "NUL in query", base, {"query_string": {k: "a\x00b" for k in QUERY_KEYS}}
    yield "huge ints in query", base, {"query_string": {k: str(HUGE) for k in QUERY_KEYS}}
    yield "negative ints in query", base, {"query_string": {k: "-1" for k in QUERY_KEYS}}
    yield "year 0001 in query", base, {"query_string": {"from": "0001-01-01T00:00:00+14:00",
                                                        "to": "0001-01-01T00:00:00-14:00", "date": "0001-01-01",
                                                        "month": "0001-01", "week": "0001-W01"}}
    yield "year 9999 in query", base, {"query_string": {"from": "9999-12-31T23:59:59-14:00",
                                                        "to": "9999-12-31T23:59:59+14:00", "date": "9999-12-31",
                                                        "month": "9999-12"}}
    yield "non-UTF-8 query", base + "?q=%FF%FE&limit=%C3%28", {}
    if method == "GET":
        return
    yield "NUL in every form field", base, {"data": {f: "a\x00b" for f in FIELDS}}
    yield "NUL in every JSON field", base, {"json": {f: "a\x00b" for f in FIELDS}}
    yield "huge ints in JSON", base, {"json": {f: HUGE for f in FIELDS}}
    yield "huge ints in form", base, {"data": {f: str(HUGE) for f in FIELDS}}
    yield "negative ints in JSON", base, {"json": {f: -1 for f in FIELDS}}
    yield "year 0001", base, {"json": {**{f: "x" for f in FIELDS}, "title": "Hội nghị",
                                       "starts_at": "0001-01-01T00:00", "ends_at": "0001-01-01T01:00",
                                       "credentials_expire_at": "0001-01-01"}}
    yield "year 9999 with offsets", base, {"data": {"title": "Hội nghị", "starts_at": "9999-12-31T23:00:00+14:00",
                                                    "ends_at": "9999-12-31T23:59:59-14:00",
                                                    "credentials_expire_at": "9999-12-31"}}
    yield "wrong JSON types", base, {"json": {**{f: {"a": [None]} for f in FIELDS}, "site_ids": "1,2,3",
                                              "monthly_count": "abc", "cues": "abc", "title": ["x"]}}
    yield "JSON scalars", base, {"json": {f: True for f in FIELDS}}
    yield "JSON array body", base, {"data": "[1, 2, 3]", "content_type": "application/json"}
    yield "deep JSON", base, {"data": DEEP_JSON, "content_type": "application/json"}
    yield "deep JSON object", base, {"data": '{"a":' * 10000 + "1" + "}" * 10000,
                                     "content_type": "application/json"}
    yield "invalid JSON", base, {"data": "{title: ", "content_type": "application/json"}
    yield "1 MB field", base, {"data": {f: ONE_MB for f in ("title", "description", "name", "glossary")}}
    yield "1 MB CSV field upload", base, lambda: {"data": {
        k: (io.BytesIO(b"code,name,level\n" + b'"' + ONE_MB.encode() + b'",x,province\n'), "tree.csv")
        for k in ("file", "document")}, "content_type": "multipart/form-data"}
    yield "30 MB body", base, {"data": THIRTY_MB, "content_type": "application/octet-stream"}
    yield "non-UTF-8 form", base, {"data": b"title=\xff\xfe&name=\xc3\x28&glossary=\xff",
                                   "content_type": "application/x-www-form-urlencoded"}
    yield "non-UTF-8 JSON", base, {"data": b'{"title": "\xff\xfe", "cues": "\xc3\x28"}',
                                   "content_type": "application/json"}
    yield "NUL in multipart file name", base, lambda: {"data": {"file": (io.BytesIO(b"x"), "a\x00b.mp4"),
                                                                "document": (io.BytesIO(b"x"), "a\x00b.pdf")},
                                                       "content_type": "multipart/form-data"}


BIG = ("30 MB body", "1 MB field", "1 MB CSV field upload", "deep JSON object")
BODY_VARIANTS = ("NUL in every form field", "NUL in every JSON field", "huge ints in JSON", "huge ints in form",
                 "negative ints in JSON", "year 0001", "year 9999 with offsets", "wrong JSON types", "JSON scalars",
                 "JSON array body", "deep JSON", "invalid JSON", "non-UTF-8 form", "non-UTF-8 JSON",
                 "NUL in multipart file name")


def _broken_session_cookies(app) -> list[str]:
    """A cookie that is not a session at all, and signed sessions whose contents are nonsense."""
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    return ["not.a.session.cookie", serializer.dumps({"_user_id": "abc"}),
            serializer.dumps({"_user_id": str(2**70)}), serializer.dumps({"_user_id": "1\x00"}),
            serializer.dumps({"_user_id": ["x"], "_fresh": "yes", "csrf_token": 5})]


def _check(response, label: str, failures: list, *, role: str, method: str, path: str) -> None:
    status = response.status_code
    where = f"{role} {method} {path[:120]} [{label}]"
    if status >= 500:
        failures.append(f"{status} {where}: {response.get_data()[:300]!r}")
        return
    if status < 400 or status in (405,):
        return
    if path.startswith("/internal/"):
        return  # the media server's API: a machine reads its error codes, no person reads its messages
    body = response.get_data(as_text=True)
    if response.mimetype == "application/json":
        data = json.loads(body)
        message = data.get("message", "") if isinstance(data, dict) else ""
        if not VIETNAMESE.search(message):
            failures.append(f"{status} {where}: JSON error not in Vietnamese: {body[:200]}")
    elif response.mimetype == "text/html" and ('lang="vi"' not in body or not VIETNAMESE.search(body)):
        failures.append(f"{status} {where}: error page not in Vietnamese: {body[:200]}")


def test_no_malformed_request_gets_a_5xx(app, make_user, world):
    clients = {"anonymous": (app.test_client(), None)}
    for role in ("admin", "technician", "editor"):
        client = app.test_client()
        clients[role] = (client, login(client, make_user(role)))
    sent, statuses, failures = 0, Counter(), []
    started = time.monotonic()

    def send(role, client, token, method, path, kwargs, label):
        nonlocal sent
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["X-CSRFToken"] = token
            if isinstance(kwargs.get("data"), dict):
                kwargs["data"] = {**kwargs["data"], "csrf_token": token}
        sent += 1
        try:
            response = client.open(path, method=method, headers=headers, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the error handler itself failed: gunicorn's bare 500 page
            statuses["raised"] += 1
            failures.append(f"raised {role} {method} {path[:120]} [{label}]: {type(exc).__name__}: {exc}"[:400])
            return
        try:
            statuses[str(response.status_code)] += 1
            if response.mimetype != "text/event-stream":
                _check(response, label, failures, role=role, method=method, path=path)
        finally:
            response.close()

    for rule, method in _routes(app):
        for number, (label, path, kwargs) in enumerate(_variants(rule, method, world)):
            if label in BIG:
                roles = ("admin", "technician")          # the roles that reach the most code
            elif label in BODY_VARIANTS:
                roles = tuple(clients)                   # what a body does depends on who sends it
            else:                                        # path and query: anonymous and one role in turn
                roles = ("anonymous", ("admin", "technician", "editor")[number % 3])
            for role in roles:
                client, token = clients[role]
                send(role, client, token, method, path, kwargs() if callable(kwargs) else dict(kwargs), label)
        # A broken session cookie on every route and method.
        for cookie in _broken_session_cookies(app):
            client = app.test_client()
            client.set_cookie("session", cookie)
            send("broken-session", client, None, method, _path(rule, world), {}, "broken session")
    elapsed = time.monotonic() - started
    with app.app_context():  # jobs a half-valid request may have queued are not other tests' work
        from rq import Queue

        from orchestrator import core

        for name in ("media", "asr", "publish", "default"):
            Queue(name, connection=core.redis_connection()).empty()
    print(f"\nmalformed requests sent: {sent} in {elapsed:.1f} s; statuses: {dict(sorted(statuses.items()))}")
    assert sent >= 520
    distinct = sorted({re.sub(r"^(\S+) \S+ ", r"\1 ", f)[:220] for f in failures})  # one line per kind
    assert not failures, f"{len(failures)} bad answers of {sent}:\n" + "\n".join(distinct[:80])


def _api(client, method: str, path: str, token: str, **kwargs):
    return client.open(path, method=method, headers={"X-CSRFToken": token}, **kwargs)


def test_the_events_api_refuses_what_it_used_to_coerce(client, make_user):
    token = login(client, make_user("technician"))
    start = future(500)
    good = {"title": "Hội nghị", "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat()}
    cases = [
        ({**good, "site_ids": "1,2,3"}, "site_ids"),
        ({**good, "monthly_count": "abc"}, "monthly_count"),
        ({**good, "monthly_count": 10**6}, "monthly_count"),
        ({**good, "host_site_id": 2**40}, "host_site_id"),
        ({**good, "title": ["x"]}, "title"),
        ({**good, "description": "x" * (5 * 1024 * 1024)}, "description"),
        ({**good, "description": "x" * 30000}, "description"),
        ({**good, "starts_at": "0001-01-01T00:00:00+14:00"}, "starts_at"),
        ({**good, "confidential": "yes"}, "confidential"),
    ]
    for body, field in cases:
        response = _api(client, "POST", "/api/events", token, json=body)
        data = response.get_json()
        assert response.status_code == 400 and data["error"] == "invalid_field", (field, data)
        assert f"«{field}»" in data["message"] and VIETNAMESE.search(data["message"]), data
    for raw, code in (("{title: ", "invalid_json"), ("[1, 2]", "json_not_object"), (DEEP_JSON, "json_too_deep"),
                      ('{"title": "a\\u0000b"}', "nul_byte")):
        response = _api(client, "POST", "/api/events", token, data=raw, content_type="application/json")
        assert response.status_code == 400 and response.get_json()["error"] == code, response.get_json()
    response = _api(client, "POST", "/api/events", token, data=THIRTY_MB, content_type="application/json")
    assert response.status_code == 413
    assert _api(client, "GET", f"/api/sites/{2**40}", token).status_code == 404


@pytest.fixture
def fresh_app(test_env):
    """A second app, so that a test may add a route of its own."""
    from web import create_app

    app = create_app()
    app.config.update(TESTING=True)
    return app


def test_the_error_page_survives_a_failed_transaction_and_a_failing_render(fresh_app, make_user, monkeypatch):
    from sqlalchemy import text

    from orchestrator.db import db

    @fresh_app.get("/test-broken-transaction")
    def broken():
        db.session.execute(text("SELECT 1/0"))  # the transaction is now aborted

    client = fresh_app.test_client()
    login(client, make_user("editor"))   # loading the user needs the database again on the error page
    response = client.get("/test-broken-transaction")
    assert response.status_code == 500
    assert 'lang="vi"' in response.get_data(as_text=True) and VIETNAMESE.search(response.get_data(as_text=True))

    import web.errors

    def failing_render(*_args, **_kwargs):
        raise RuntimeError("the templates are broken too")

    monkeypatch.setattr(web.errors, "render_template", failing_render)
    response = client.get("/test-broken-transaction")
    page = response.get_data(as_text=True)
    assert response.status_code == 500 and 'lang="vi"' in page and "Đã xảy ra lỗi" in page
    client.set_cookie("lang", "en")
    assert "An error occurred" in client.get("/test-broken-transaction").get_data(as_text=True)
    assert client.get("/api/test-missing").status_code == 404
