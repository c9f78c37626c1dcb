"""WHIP/WHEP signalling: tokens, event state, floor, malformed input → clear JSON errors."""
from __future__ import annotations

import requests

from media.live.client import SignallingError, publish
from media.live.synthetic import PatternVideo, ToneAudio
from tests.media_server.live_clients import Viewer, run, wait_for

OFFER_HEADERS = {"Content-Type": "application/sdp"}


def _post(url, token=None, body="v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n", ctype="application/sdp"):
    headers = {"Content-Type": ctype}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(url, data=body, headers=headers, timeout=10)


def test_bad_requests_get_clear_json_errors(media_servers, live_event):
    server = media_servers()
    event = live_event()
    other = live_event()
    ended = live_event()
    ended.stop()
    whip, whep = f"{server.url}/whip/{event.id}", f"{server.url}/whep/{event.id}"

    cases = [
        (_post(whip), 401, "token_missing"),
        (_post(whip, "not-a-token"), 401, "token_invalid"),
        (_post(whip, event.token("host", secret_kind := 0) + "x"), 401, "token_invalid"),
        (_post(whip, other.token("host")), 403, "token_wrong_event"),
        (_post(whip, event.token("relay", 7)), 403, "token_wrong_kind"),
        (_post(f"{server.url}/whip/{ended.id}", ended.token("host")), 403, "event_not_live"),
        (_post(f"{server.url}/whep/{ended.id}", ended.token("site", 3)), 403, "event_not_live"),
        (_post(whip, event.token("site", 5)), 403, "no_floor"),                  # a site without the floor
        (_post(whip, event.token("host"), body="hello"), 400, "malformed_sdp"),
        (_post(whip, event.token("host"), body="v=0\r\nm=video 9 RTP/AVP 0\r\nbroken"), 400, "malformed_sdp"),
        (_post(whip, event.token("host"), body=b"v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\ns=\xff\xfe\r\n"), 400,
         "malformed_sdp"),                                                        # not UTF-8
        (_post(whep, event.token("site", 1), body=b"v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n\xc3\x28"), 400,
         "malformed_sdp"),
        (_post(whip, event.token("host"), ctype="text/plain"), 415, "unsupported_media_type"),
        (_post(whep, event.token("site", 1), body="v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
                                                  "a=rtpmap:96 VP8/90000\r\n"), 400, "codec_unsupported"),
    ]
    assert secret_kind == 0
    for response, status, code in cases:
        assert response.status_code == status, (code, response.status_code, response.text)
        body = response.json()
        assert body["error"] == code
        assert body["message"] and body["message_en"]          # Vietnamese and English text
    # Revoked link: the panel bumped the site's version.
    event.revoke("site", 4, 2)
    response = _post(whep, event.token("site", 4, version=1))
    assert response.status_code == 401 and response.json()["error"] == "token_revoked"
    # Unknown resources and trickle ICE.
    assert requests.delete(f"{whip}/abcdef", headers={"Authorization": "Bearer x"}, timeout=5).status_code == 404
    assert requests.patch(f"{whip}/abcdef", timeout=5).status_code == 405
    preflight = requests.options(whip, timeout=5)
    assert preflight.status_code == 204 and "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    assert requests.get(server.url + "/health", timeout=5).json()["status"] == "ok"


def test_second_publisher_refused_and_vanished_peers_cleaned_up(media_servers, live_event):
    server = media_servers()
    event = live_event()

    async def scenario():
        url = f"{server.url}/whip/{event.id}"
        host = await publish(url, event.token("host"), [PatternVideo(320, 240, 25), ToneAudio()])
        viewer = await Viewer().connect(server.url, event.id, event.token("site", 1))
        gone = await Viewer().connect(server.url, event.id, event.token("site", 2))
        assert await wait_for(lambda: viewer.video_frames > 10 and gone.video_frames > 10, 15)
        # The host's feed is flowing: a second host publisher is refused, the first keeps going.
        try:
            await publish(url, event.token("host"), [PatternVideo(320, 240, 25)])
            raise AssertionError("second publisher accepted")
        except SignallingError as exc:
            assert exc.status == 409 and "already_publishing" in exc.body
        # A viewer that vanishes without DELETE (its process died): closed by the watchdog.
        await gone.close(delete=False)
        assert await wait_for(lambda: len(server.rooms()[str(event.id)]["subscribers"]) == 1, 15, 0.5)
        frames = viewer.video_frames
        await __import__("asyncio").sleep(1)
        assert viewer.video_frames > frames       # the room carried on for the others
        # DELETE ends a session at once.
        response = requests.delete(viewer.session.resource_url,
                                   headers={"Authorization": f"Bearer {event.token('site', 1)}"}, timeout=5)
        assert response.status_code == 200
        await viewer.close(delete=False)
        await host.close()

    run(scenario(), timeout=90)
