"""A conference of 1,200 sites (bulk-inserted): the event page, the participants API, the wall API and the
invitations page serve pages with counts by state from SQL and a number of queries that does not grow
with the sites; the printable sheet of every site is an RQ job whose progress reaches 100 and whose file
only the event's technicians may download, with QR codes that decode to each site's link."""
from __future__ import annotations

import json
import re
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import insert, update
from sqlalchemy.engine import Engine

from groundwork.live_contract import sites_key
from orchestrator import core
from orchestrator.db import db
from orchestrator.invitations import check_join, sheet_prefix
from orchestrator.scheduling import EventInput, Participation, create_event
from orchestrator.sites import Site
from tests.conftest import login, run_worker_burst
from tests.orchestrator.test_scheduling_rules import future, make_tree

DISTRICTS = 12
SITES = 1200
JOINED_EVERY = 10          # every 10th site joined (database state), with 25 people
DROPPED_EVERY = 25         # every 25th site not already joined: dropped


def bulk_tree(size: int) -> list[int]:
    """A province, 12 districts and the rest communes, inserted in three statements; ids in tree order."""
    u = uuid.uuid4().hex[:6]

    def add(rows: list[dict]) -> list[int]:
        return list(db.session.execute(insert(Site).returning(Site.id), rows).scalars())

    common = {"unit_type": "", "room_name": "", "technician_name": "", "technician_phone": "", "media_node_url": ""}
    [root] = add([{"code": f"SP{u}", "name": f"Tỉnh {u}", "level": "province", "depth": 0, "path": "", **common}])
    districts = add([{"code": f"SD{i}{u}", "name": f"Huyện {i} {u}", "level": "district", "depth": 1, "parent_id": root,
                      "path": "", **common} for i in range(DISTRICTS)])
    communes = add([{"code": f"SC{i}{u}", "name": f"Xã {i} {u}", "level": "commune", "depth": 2,
                     "parent_id": districts[i % DISTRICTS], "path": "", **common}
                    for i in range(size - 1 - DISTRICTS)])
    paths = [{"id": root, "path": f"/{root}/"}] + [{"id": d, "path": f"/{root}/{d}/"} for d in districts] + \
        [{"id": c, "path": f"/{root}/{districts[i % DISTRICTS]}/{c}/"} for i, c in enumerate(communes)]
    db.session.execute(update(Site), paths)
    db.session.commit()
    return [root, *districts, *communes]


@pytest.fixture(scope="module")
def big(app, make_user):
    site_ids = bulk_tree(SITES)
    tech = make_user("technician")
    start = future(500 + uuid.uuid4().int % 200)
    event = create_event(tech, EventInput(kind="conference", title="Hội nghị 1.200 điểm cầu", starts_at=start,
                                          ends_at=start + timedelta(hours=2), host_site_id=site_ids[0],
                                          site_ids=site_ids))[0]
    joined = site_ids[::JOINED_EVERY]
    dropped = [s for s in site_ids[::DROPPED_EVERY] if s not in set(joined)]
    db.session.execute(db.update(Participation).where(Participation.event_id == event.id,
                                                      Participation.site_id.in_(joined))
                       .values(state="joined", attendance=25))
    db.session.execute(db.update(Participation).where(Participation.event_id == event.id,
                                                      Participation.site_id.in_(dropped)).values(state="dropped"))
    db.session.commit()
    return {"event": event, "tech": tech, "site_ids": site_ids, "joined": joined, "dropped": dropped}


@pytest.fixture(scope="module")
def small(app, big):
    t = make_tree()
    start = future(800 + uuid.uuid4().int % 200)
    event = create_event(big["tech"], EventInput(kind="conference", title="Hội nghị nhỏ", starts_at=start,
                                                 ends_at=start + timedelta(hours=2), host_site_id=t["P"].id,
                                                 site_ids=[t[c].id for c in ("P", "D1", "C11", "C12")]))[0]
    return event


@contextmanager
def counted_queries():
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)
    sa_event.listen(Engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa_event.remove(Engine, "before_cursor_execute", count)


def rows_of(html: str) -> list[str]:
    body = html.split('id="participant-rows"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<span class="muted small">([^<]+)</span></td>', body)


def test_event_page_lists_one_page_with_counts_from_sql(client, big):
    event = big["event"]
    login(client, big["tech"])
    html = client.get(f"/events/{event.id}").get_data(as_text=True)
    first = rows_of(html)
    assert len(first) == 100
    assert re.search(r'id="count-sites">(\d+)<', html).group(1) == str(SITES)
    assert re.search(r'id="count-joined">(\d+)<', html).group(1) == str(len(big["joined"]))
    assert re.search(r'id="count-dropped">(\d+)<', html).group(1) == str(len(big["dropped"]))
    assert f"/events/{event.id}?offset=100#participants" in html and "1–100" in html
    second = rows_of(client.get(f"/events/{event.id}?offset=100").get_data(as_text=True))
    assert len(second) == 100 and not set(first) & set(second)
    last = client.get(f"/events/{event.id}?offset=1150").get_data(as_text=True)
    assert len(rows_of(last)) == 50 and "offset=1050" in last and "offset=1250" not in last
    assert client.get(f"/events/{event.id}?offset=garbage").status_code == 200
    beyond = client.get(f"/events/{event.id}?offset=99999999999999999999999")
    assert beyond.status_code == 200 and len(rows_of(beyond.get_data(as_text=True))) == 100   # the last page


def test_participants_api_pages_cover_every_site_once(client, big):
    event = big["event"]
    login(client, big["tech"])
    first = client.get(f"/api/events/{event.id}/participants").get_json()
    assert len(first["participants"]) == 500 and first["total"] == SITES and first["next_offset"] == 500
    assert first["counts"]["sites"] == SITES and first["counts"]["attendees"] == 25 * len(big["joined"])
    assert first["counts"]["by_state"]["joined"] == len(big["joined"])
    assert first["counts"]["by_state"]["dropped"] == len(big["dropped"])
    seen, offset = [], 0
    while offset is not None:
        page = client.get(f"/api/events/{event.id}/participants?offset={offset}&limit=300").get_json()
        seen += [p["site_id"] for p in page["participants"]]
        offset = page["next_offset"]
    assert len(seen) == SITES and set(seen) == set(big["site_ids"])
    assert seen[0] == big["site_ids"][0]            # tree order: the province first
    joined = client.get(f"/api/events/{event.id}/participants?state=joined&limit=1000").get_json()
    assert joined["total"] == len(big["joined"])
    assert {p["site_id"] for p in joined["participants"]} == set(big["joined"])
    assert client.get(f"/api/events/{event.id}/participants?limit=5000").get_json()["limit"] == 1000
    bad = client.get(f"/api/events/{event.id}/participants?state=teleported")
    assert bad.status_code == 400 and bad.get_json()["error"] == "bad_state"


def test_wall_api_pages_tiles_and_counts_every_site(client, big):
    event = big["event"]
    login(client, big["tech"])
    live = big["site_ids"][1:61]      # 60 sites reporting now (Redis), 6 of them degraded
    r = core.redis_connection()
    now = time.time()
    r.hset(sites_key(event.id), mapping={str(s): json.dumps({"site_id": s, "ts": now + 60, "attendance": 3,
                                                             "state": "degraded" if i % 10 == 0 else "receiving"})
                                         for i, s in enumerate(live)})
    try:
        wall = client.get(f"/api/events/{event.id}/wall?limit=100").get_json()
        assert len(wall["tiles"]) == 100 and wall["page"]["total"] == SITES
        tiles = {t["site_id"]: t for t in wall["tiles"]}
        assert wall["tiles"][0]["site_id"] == big["site_ids"][0] and tiles[live[0]]["state"] == "degraded"
        assert tiles[live[1]]["state"] == "receiving" and tiles[live[1]]["attendance"] == 3
        joined_not_live = [s for s in big["joined"] if s not in set(live)]
        totals = wall["totals"]
        assert totals["sites"] == SITES and totals["state_receiving"] == 54 and totals["state_degraded"] == 6
        assert totals["connected"] == 60 + len(joined_not_live)
        assert totals["attendees"] == 3 * 60 + 25 * len(joined_not_live)
        problems = client.get(f"/api/events/{event.id}/wall?problems=1&limit=1000").get_json()
        expected = SITES - totals["state_receiving"] - totals["state_joined"]
        assert problems["page"]["total"] == expected and len(problems["tiles"]) == 1000
        assert {t["state"] for t in problems["tiles"]} <= {"not_joined", "degraded", "dropped"}
        later = client.get(f"/api/events/{event.id}/wall?offset=1100&limit=500").get_json()
        assert len(later["tiles"]) == 100 and later["totals"] == totals
        response = client.get(f"/events/{event.id}/wall/stream", buffered=False)
        snapshot = json.loads(next(iter(response.response)).decode().split("data: ", 1)[1])
        response.close()
        assert len(snapshot["tiles"]) == 500 and snapshot["page"]["total"] == SITES
    finally:
        r.delete(sites_key(event.id))


def test_queries_per_page_do_not_grow_with_the_sites(client, big, small):
    login(client, big["tech"])
    urls = ("/events/{id}", "/api/events/{id}/participants", "/api/events/{id}/participants?offset=700&limit=300",
            "/api/events/{id}/wall", "/events/{id}/invitations", "/api/events/{id}/invitations")
    for url in urls:
        counts = {}
        for name, event in (("small", small), ("big", big["event"])):
            with counted_queries() as statements:
                assert client.get(url.format(id=event.id)).status_code == 200
            counts[name] = len(statements)
        assert counts["big"] == counts["small"] and counts["big"] <= 12, (url, counts)


def test_invitations_page_draws_one_page_of_qr_codes(client, big):
    event = big["event"]
    login(client, big["tech"])
    html = client.get(f"/events/{event.id}/invitations").get_data(as_text=True)
    assert html.count('class="invite-page"') == 100 and html.count("<svg") == 100
    assert f"{SITES} " in html and 'id="sheet"' in html and "offset=100" in html
    last = client.get(f"/events/{event.id}/invitations?offset=1150&layout=table").get_data(as_text=True)
    assert last.count('class="qr small-qr"') == 50 and "layout=table" in last and "offset=1050" in last
    api = client.get(f"/api/events/{event.id}/invitations?offset=1100&limit=200").get_json()
    assert len(api["invitations"]) == 100 and api["total"] == SITES and api["next_offset"] is None


def qr_text(svg: str) -> str:
    """Decode one of our SVG QR codes: draw its runs of modules with PIL and read it with zxing-cpp."""
    import zxingcpp
    from PIL import Image, ImageDraw

    size = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))
    scale = 6
    image = Image.new("L", (size * scale, size * scale), 255)
    draw = ImageDraw.Draw(image)
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", svg):
        x, y, w = int(x), int(y), int(w)
        draw.rectangle([x * scale, y * scale, (x + w) * scale - 1, (y + 1) * scale - 1], fill=0)
    found = zxingcpp.read_barcodes(image)
    assert found, "the QR code does not decode"
    return found[0].text


def test_printable_sheet_is_a_job_with_progress_and_a_guarded_download(client, app, big, make_user):
    from rq.job import Job
    from rq.registry import FinishedJobRegistry

    event = big["event"]
    token = login(client, big["tech"])
    status = f"/events/{event.id}/invitations/sheet/status"
    assert client.get(status).get_json()["state"] == "none"
    assert client.get(f"/events/{event.id}/invitations/sheet").status_code == 404
    queued = client.post(f"/events/{event.id}/invitations/sheet", headers={"X-CSRFToken": token})
    assert queued.status_code == 202 and queued.get_json()["state"] == "queued"
    assert client.post(f"/events/{event.id}/invitations/sheet", headers={"X-CSRFToken": token}
                       ).get_json()["state"] == "queued"          # asked twice: one job
    run_worker_burst(app, queues=("default",))
    finished = [j for j in FinishedJobRegistry("default", connection=core.redis_connection()).get_job_ids()
                if j.startswith(f"invitation-sheet-{event.id}-")]
    assert len(finished) == 1
    assert Job.fetch(finished[0], connection=core.redis_connection()).get_meta()["percent"] == 100.0
    done = client.get(status).get_json()
    assert done["state"] == "done" and done["percent"] == 100

    download = client.get(f"/events/{event.id}/invitations/sheet")
    assert download.status_code == 302
    sheet = client.get(download.headers["Location"]).get_data(as_text=True)
    pages = sheet.split('<article class="invite-page">')[1:]
    assert len(pages) == SITES and sheet.startswith("<!doctype html>") and "GIẤY MỜI" in sheet
    for page in (pages[0], pages[600], pages[-1]):
        link = re.search(r'<p class="link"><a href="([^"]+)"', page).group(1)
        site_id = int(re.search(r'data-site="(\d+)"', page).group(1))
        assert qr_text(re.search(r"<svg.*?</svg>", page, re.S).group(0)) == link
        assert check_join(link.rsplit("/", 1)[1], event_id=event.id, site_id=site_id)

    client.post("/logout", headers={"X-CSRFToken": token})
    speaker_token = login(client, make_user("speaker"))
    assert client.get(f"/events/{event.id}/invitations/sheet").status_code in (403, 404)
    assert client.get(status).status_code in (403, 404)
    assert client.post(f"/events/{event.id}/invitations/sheet",
                       headers={"X-CSRFToken": speaker_token}).status_code in (403, 404)
    client.post("/logout", headers={"X-CSRFToken": speaker_token})

    # A new link for one site: the stored sheet no longer matches, so it is not served any more.
    token = login(client, big["tech"])
    client.post(f"/events/{event.id}/sites/{big['site_ids'][5]}/revoke", data={"csrf_token": token})
    assert client.get(status).get_json()["state"] == "none"
    assert client.get(f"/events/{event.id}/invitations/sheet").status_code == 404
    client.post(f"/events/{event.id}/invitations/sheet", headers={"X-CSRFToken": token})
    run_worker_burst(app, queues=("default",))
    assert client.get(status).get_json()["state"] == "done"
    assert len(core.storage().list(sheet_prefix(event.id))) == 1      # the outdated sheet is gone
