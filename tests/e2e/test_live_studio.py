"""The live plane end to end with a real Chromium: the host studio publishes camera + microphone,
aiortc viewers and a Chromium player page receive it, the floor goes to the player's site and back,
the recording reaches the panel (hand-off → Recording → pipeline); the report studio records a take
after a re-take."""
from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from groundwork import live_contract as contract
from tests.e2e.conftest import wait_for_js

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The panel's pages point browsers at DIEMCAU_MEDIA_URL. Collection runs before any session fixture,
# so the gunicorn started by `live_server` inherits this address, where this module's server listens.
MEDIA_PORT = int(os.environ.get("DIEMCAU_TEST_MEDIA_PORT") or _free_port())
os.environ.setdefault("DIEMCAU_MEDIA_URL", f"http://127.0.0.1:{MEDIA_PORT}")
ARTIFACTS = REPO_ROOT / "test-artifacts"


@pytest.fixture
def media_server(live_server, test_env):
    url = os.environ["DIEMCAU_MEDIA_URL"]
    port = int(url.rsplit(":", 1)[1])
    env = {**os.environ, **test_env, "DIEMCAU_ICE_HOSTS": "127.0.0.1", "DIEMCAU_LIVE_FPS": "25",
           "DIEMCAU_LIVE_RENDITIONS": "640x360@800,320x180@250", "DIEMCAU_LIVE_SEGMENT_S": "1",
           "DIEMCAU_LIVE_STATE_INTERVAL_S": "0.5", "DIEMCAU_PANEL_INTERNAL_URL": live_server}
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "media-server-e2e.log", "a")  # noqa: SIM115
    proc = subprocess.Popen([str(Path(sys.executable).with_name("diemcau")), "media-server", "--port", str(port)],
                            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(url + "/health", timeout=1).ok:
                break
        except requests.RequestException:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "media server did not start"
        time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(15)


def _login(page, base: str, user) -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "secret-pass")
    page.click("button[type=submit]")
    page.wait_for_load_state()


def _redis(test_env):
    from redis import Redis

    return Redis.from_url(test_env["REDIS_URL"])


def _make_event(kind: str, user, *, live: bool, test_env):
    from orchestrator.db import db
    from orchestrator.models import Event

    event = Event(kind=kind, title=f"Hội nghị trực tuyến {kind}", status="live" if live else "scheduled",
                  created_by_id=user.id)
    db.session.add(event)
    db.session.commit()
    if live:
        _redis(test_env).hset(contract.event_key(event.id), mapping=contract.state_fields(
            status="live", confidential=False, floor=contract.HOST_FLOOR, title=event.title))
    return event


def _video_playing(page, selector: str = "[data-live-player] video") -> dict:
    return page.evaluate("""async (sel) => {
        const v = document.querySelector(sel);
        const t0 = v.currentTime; await new Promise(r => setTimeout(r, 600));
        const root = v.closest('[data-live-player]');
        const pc = root && root.livePlayer && root.livePlayer.pc;
        let audio = 0, video = 0, decoded = 0;
        if (pc) (await pc.getStats()).forEach(s => { if (s.type === 'inbound-rtp') {
            if (s.kind === 'audio') audio = s.totalSamplesReceived || 0;
            if (s.kind === 'video') { video = s.packetsReceived; decoded = s.framesDecoded || 0; } } });
        return {w: v.videoWidth, h: v.videoHeight, advancing: v.currentTime > t0, audio, video, decoded};
    }""", selector)


def test_host_studio_publishes_viewers_receive_floor_moves_and_recording_enters_pipeline(
        browser, live_server, media_server, make_user, test_env, app):
    from groundwork.tokens import sign
    from media.live.synthetic import read_stamp  # noqa: F401  (import check: the package is importable here)
    from orchestrator.db import db
    from orchestrator.models import Recording
    from tests.media_server.live_clients import Viewer, wait_for

    tech = make_user("technician")
    event = _make_event("conference", tech, live=True, test_env=test_env)
    secret = app.config["SECRET_KEY"]

    host_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    host = host_ctx.new_page()
    _login(host, live_server, tech)
    host.goto(f"{live_server}/studio/events/{event.id}")
    wait_for_js(host, "document.querySelector('video.preview').videoWidth > 0", timeout=15000)
    host.click(".go-live")
    wait_for_js(host, "document.querySelector('[data-host-studio]').dataset.state === 'connected'",
                           timeout=20000)
    rooms = requests.get(media_server + "/rooms", timeout=5).json()[str(event.id)]
    assert rooms["publishers"][0]["source"] == "host"

    # A Chromium player page for an invited site (its join link's token), and aiortc viewers.
    from orchestrator.invitations import join_token
    from orchestrator.scheduling import Participation
    from tests.orchestrator.test_scheduling_rules import make_tree

    site_id = make_tree()["C11"].id
    participation = Participation(event_id=event.id, site_id=site_id)
    db.session.add(participation)
    db.session.commit()
    site_token = join_token(participation)
    site_ctx = browser.new_context(viewport={"width": 1100, "height": 800}, locale="vi-VN")
    site = site_ctx.new_page()
    site.goto(f"{live_server}/studio/watch/{event.id}?token={site_token}")
    wait_for_js(site, "document.querySelector('[data-live-player]').dataset.state === 'connected'",
                           timeout=20000)

    async def viewers_receive():
        viewers = [await Viewer().connect(media_server, event.id, sign("site", event.id, s, 1, secret=secret))
                   for s in (21, 22)]
        ok = await wait_for(lambda: all(v.video_frames > 25 and v.audio_samples > 48000 for v in viewers), 25)
        result = [(v.video_frames, v.audio_samples, sorted(v.sizes)) for v in viewers]
        for v in viewers:
            await v.close()
        return ok, result
    # Playwright's sync API owns this thread's event loop: aiortc runs in a thread of its own.
    with ThreadPoolExecutor(1) as pool:
        ok, result = pool.submit(asyncio.run, viewers_receive()).result(120)
    assert ok, result
    assert all(r[2] == [(640, 360)] for r in result)

    site.wait_for_timeout(1500)
    state = _video_playing(site)
    assert state["w"] == 640 and state["h"] == 360 and state["advancing"], state
    assert state["audio"] > 0 and state["decoded"] > 10, state
    site.screenshot(path=str(ARTIFACTS / "live-site-player.png"))
    host.screenshot(path=str(ARTIFACTS / "live-host-studio.png"))

    # A dropped connection: the server loses the site's session (as a network cut or a media-server
    # hiccup would). The page notices by itself, says it is reconnecting, and comes back on the program
    # with a new session, without anyone touching it.
    player = "document.querySelector('[data-live-player]')"
    site.evaluate(f"""() => {{ const root = {player}; window.__states = [];
        new MutationObserver(() => window.__states.push(root.dataset.state))
            .observe(root, {{attributes: true, attributeFilter: ['data-state']}}); }}""")
    resource = site.evaluate(f"{player}.livePlayer.resource")
    dropped = requests.delete(resource, headers={"Authorization": f"Bearer {site_token}"}, timeout=5)
    assert dropped.status_code == 200
    wait_for_js(site, f"window.__states.includes('reconnecting') && {player}.dataset.state === 'connected'",
                           timeout=45000)
    assert site.evaluate(f"{player}.livePlayer.resource") != resource
    site.wait_for_timeout(1500)
    assert _video_playing(site)["advancing"]

    # The chair gives the floor to the site: its page publishes its camera and it goes on air.
    host.fill(".floor-site", str(site_id))
    host.click("button[data-floor=site]")
    wait_for_js(host, f"document.querySelector('[data-host-studio]').dataset.floor === 'site:{site_id}'", timeout=5000)
    wait_for_js(site, "document.querySelector('[data-live-player]').dataset.publishing === '1'", timeout=15000)

    def on_air() -> str | None:
        return requests.get(media_server + "/rooms", timeout=5).json()[str(event.id)]["on_air"]
    deadline = time.monotonic() + 15
    while on_air() != f"site:{site_id}" and time.monotonic() < deadline:
        time.sleep(0.3)
    assert on_air() == f"site:{site_id}"
    time.sleep(2)
    assert _video_playing(site)["advancing"]      # the site's own player kept going, no renegotiation
    host.click("button[data-floor=host]")
    deadline = time.monotonic() + 15
    while on_air() != "host" and time.monotonic() < deadline:
        time.sleep(0.3)
    assert on_air() == "host"
    wait_for_js(site, "document.querySelector('[data-live-player]').dataset.publishing === '0'", timeout=15000)
    time.sleep(1.5)

    # Stop: the media server joins the segments and hands the master to the panel.
    _redis(test_env).hset(contract.event_key(event.id), mapping=contract.state_fields(status="ended"))
    _redis(test_env).publish(contract.EVENTS_CHANNEL, contract.event_message(event.id, "stopped"))
    deadline = time.monotonic() + 60
    recording = None
    while time.monotonic() < deadline and recording is None:
        db.session.expire_all()
        recording = db.session.execute(db.select(Recording).filter_by(event_id=event.id)).scalar_one_or_none()
        time.sleep(0.5)
    assert recording is not None, "the hand-off never registered a recording"
    assert recording.source_key.startswith(f"live/{event.id}/master-")
    assert recording.event.status == "processing"
    assert [s.stage for s in recording.stages][:2] == ["probe", "transcode"]
    assert recording.stages[0].status == "queued"          # the pipeline was started
    master = Path(test_env["STORAGE_URL"]) / recording.source_key
    probe = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type:format=duration",
                                       "-of", "json", str(master)], capture_output=True, text=True).stdout)
    assert {s["codec_type"] for s in probe["streams"]} == {"video", "audio"}
    assert float(probe["format"]["duration"]) > 8
    host_ctx.close()
    site_ctx.close()


def test_report_studio_records_a_take_after_a_retake(browser, live_server, media_server, make_user, test_env):
    from orchestrator.db import db
    from orchestrator.models import Recording

    speaker = make_user("speaker")
    event = _make_event("report", speaker, live=False, test_env=test_env)
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = ctx.new_page()
    _login(page, live_server, speaker)
    page.goto(f"{live_server}/studio/report/{event.id}")
    wait_for_js(page, "document.querySelector('video.preview').videoWidth > 0", timeout=15000)
    page.click("button.record")
    page.wait_for_selector(".countdown:not(:empty)", timeout=5000)
    wait_for_js(page, "document.querySelector('[data-report-studio]').dataset.state === 'recording'",
                           timeout=20000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "live-report-studio.png"))
    page.click("button.retake")                       # throw this take away, count down, record again
    wait_for_js(page, "document.querySelector('[data-report-studio]').dataset.state === 'discarded'"
                           " || document.querySelector('.countdown').textContent !== ''", timeout=10000)
    wait_for_js(page, "document.querySelector('[data-report-studio]').dataset.state === 'recording'",
                           timeout=20000)
    page.wait_for_timeout(4000)
    page.click("button.stop")
    wait_for_js(page, "document.querySelector('[data-report-studio]').dataset.state === 'saved'",
                           timeout=60000)
    assert re.search(r"/panel/recordings?/\d+", page.get_attribute(".take-link", "href"))
    db.session.expire_all()
    recordings = db.session.execute(db.select(Recording).filter_by(event_id=event.id)).scalars().all()
    assert len(recordings) == 1                        # the discarded take was never handed off
    master = Path(test_env["STORAGE_URL"]) / recordings[0].source_key
    duration = float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                                     str(master)], capture_output=True, text=True).stdout)
    assert 2.5 < duration < 8, duration               # the second take only (~4 s)
    page.screenshot(path=str(ARTIFACTS / "live-report-studio-saved.png"))
    ctx.close()
