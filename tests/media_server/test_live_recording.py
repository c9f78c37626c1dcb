"""Recording: the program (with its floor changes) into crash-safe segments, joined on stop;
a SIGKILL mid-session still yields a playable recording up to a few seconds before the kill."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

from media.live.client import SignallingError, publish
from media.live.synthetic import PatternVideo, ToneAudio
from media.recorder import probe_duration, read_manifest, segment_files
from tests.media_server.live_clients import Viewer, run, wait_for

BRIGHT, DARK = (150, 236), (16, 60)


def _streams(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name,duration",
                          "-show_entries", "format=duration", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def _mean_luma_at(path: Path, t: float) -> float:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{t:.2f}", "-i", str(path), "-frames:v", "1",
                          "-vf", "scale=64:36,format=gray", "-f", "rawvideo", "-"],
                         capture_output=True, check=True).stdout
    assert raw, f"no frame at {t}s"
    return sum(raw) / len(raw)


def _spool(test_env, event_id: int) -> Path:
    return Path(test_env["DIEMCAU_DATA_DIR"]) / "live" / "spool" / str(event_id)


def _wait_manifest(spool: Path, statuses: tuple[str, ...], timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        manifest = read_manifest(spool)
        if manifest.get("status") in statuses:
            return manifest
        time.sleep(0.2)
    raise AssertionError(f"spool {spool} never reached {statuses}: {read_manifest(spool)}")


def test_floor_moves_to_a_site_and_back_and_the_recording_has_it_all(media_servers, live_event, test_env):
    server = media_servers()
    event = live_event()

    async def scenario():
        t0 = time.monotonic()
        host = await publish(f"{server.url}/whip/{event.id}", event.token("host"),
                             [PatternVideo(320, 180, 25, luma=BRIGHT), ToneAudio(440)])
        viewer = await Viewer().connect(server.url, event.id, event.token("site", 1))
        assert await wait_for(lambda: viewer.video_frames > 25, 15)
        bright = viewer.luma[-1]
        # A site without the floor is refused; once the chair gives it the floor, it publishes.
        try:
            await publish(f"{server.url}/whip/{event.id}", event.token("site", 9), [PatternVideo(320, 180, 25)])
            raise AssertionError("publish without the floor accepted")
        except SignallingError as exc:
            assert exc.status == 403 and "no_floor" in exc.body
        t_floor = time.monotonic() - t0
        event.give_floor("site:9")
        await asyncio.sleep(0.8)   # the room picks the floor up from pub/sub
        site = await publish(f"{server.url}/whip/{event.id}", event.token("site", 9),
                             [PatternVideo(320, 180, 25, luma=DARK), ToneAudio(880)])
        assert await wait_for(lambda: viewer.luma and viewer.luma[-1] < bright - 40, 10), viewer.luma[-5:]
        rooms = server.rooms()[str(event.id)]
        assert rooms["on_air"] == "site:9" and rooms["floor"] == "site:9"
        await asyncio.sleep(2.5)
        t_back = time.monotonic() - t0
        event.give_floor("host")
        assert await wait_for(lambda: viewer.luma[-1] > bright - 20, 10), viewer.luma[-5:]
        # The viewer kept one connection throughout: no renegotiation on either switch.
        assert viewer.session.pc.connectionState == "connected"
        # The site's publisher was released when the floor went back.
        assert await wait_for(lambda: all(p["source"] == "host" for p in
                                          server.rooms()[str(event.id)]["publishers"]), 5, 0.3)
        await asyncio.sleep(2.5)
        total = time.monotonic() - t0
        await viewer.close()
        await site.close()
        await host.close()
        return t_floor, t_back, total

    t_floor, t_back, total = run(scenario(), timeout=120)
    event.stop()
    spool = _spool(test_env, event.id)
    manifest = _wait_manifest(spool, ("joined", "handed_off"))
    assert manifest["storage_key"].startswith(f"live/{event.id}/master-")
    stored = Path(test_env["STORAGE_URL"]) / manifest["storage_key"]
    assert stored.exists()
    info = _streams(stored)
    kinds = {s["codec_type"]: s for s in info["streams"]}
    assert kinds["video"]["codec_name"] == "h264" and kinds["audio"]["codec_name"] == "opus"
    duration = float(info["format"]["duration"])
    assert total - 3 < duration < total + 1, (duration, total)
    # Audio runs through the whole session (not only while someone published).
    audio = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a", "-count_packets", "-show_entries",
                            "stream=nb_read_packets", "-of", "csv=p=0", str(stored)],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert int(audio) * 0.02 > duration - 1.5
    # What viewers saw is what was recorded: bright host, dark site after the floor change, bright again.
    offset = total - duration          # recording starts when the host's first keyframe arrives
    host_luma = _mean_luma_at(stored, max(0.5, t_floor - offset - 1))
    site_luma = _mean_luma_at(stored, t_back - offset - 0.8)
    back_luma = _mean_luma_at(stored, duration - 1.0)
    assert site_luma < host_luma - 30 and back_luma > site_luma + 30, (host_luma, site_luma, back_luma)


def test_sigkill_mid_session_still_yields_a_playable_recording(media_servers, live_event, test_env):
    server = media_servers(log_name="media-server-kill.log")
    event = live_event()
    spool = _spool(test_env, event.id)

    async def publish_for(seconds: float) -> float:
        host = await publish(f"{server.url}/whip/{event.id}", event.token("host"),
                             [PatternVideo(320, 180, 25), ToneAudio()])
        t0 = time.monotonic()
        await asyncio.sleep(seconds)
        server.kill()                        # SIGKILL: no cleanup, no trailer, no goodbye
        elapsed = time.monotonic() - t0
        await host.close(delete=False)
        return elapsed

    elapsed = run(publish_for(7.0))
    segments = segment_files(spool)
    assert len(segments) >= 3, segments     # one-second segments were closed and synced as it went
    assert read_manifest(spool)["status"] == "recording"
    # The session ends while the server is down; the restarted server finalises the spool.
    event.stop()
    media_servers(log_name="media-server-kill.log")
    manifest = _wait_manifest(spool, ("joined", "handed_off"), timeout=60)
    assert manifest["crashed"] is True
    stored = Path(test_env["STORAGE_URL"]) / manifest["storage_key"]
    duration = probe_duration(stored)
    assert duration is not None and elapsed - 3.0 <= duration <= elapsed + 1, (duration, elapsed)
    # Decode everything; a millisecond encoder time base, since live timestamps are not on a 1/25 s grid.
    decoded = subprocess.run(["ffmpeg", "-v", "error", "-i", str(stored), "-fps_mode", "passthrough",
                              "-enc_time_base:v", "1:1000", "-f", "null", "-"], capture_output=True, text=True)
    assert decoded.returncode == 0 and not decoded.stderr.strip(), decoded.stderr[-500:]
    assert {s["codec_type"] for s in _streams(stored)["streams"]} == {"video", "audio"}


def test_recover_command_finalises_leftovers_of_ended_events_only(media_servers, live_event, live_env, test_env):
    """`diemcau media-server --recover` (the reconciler's path, no server restarted): of two sessions a
    SIGKILL cut short, the ended event's spool becomes a playable recording; the one still live is left
    for its server to resume, and is finalised by a later run once it has ended."""
    server = media_servers(log_name="media-server-recover.log")
    ended, still_live = live_event(), live_event()

    async def publish_both_then_kill() -> None:
        hosts = [await publish(f"{server.url}/whip/{e.id}", e.token("host"),
                               [PatternVideo(320, 180, 25), ToneAudio()]) for e in (ended, still_live)]
        # Killed once both sessions have a few closed segments (a loaded machine connects slowly).
        spools = [_spool(test_env, e.id) for e in (ended, still_live)]
        closed = await wait_for(lambda: all(len(segment_files(sp)) >= 3 for sp in spools), 60)
        assert closed, ([len(segment_files(sp)) for sp in spools], server.rooms(), server.log_tail())
        server.kill()
        for host in hosts:
            await host.close(delete=False)

    run(publish_both_then_kill())
    ended.stop()

    # A panel that refuses the hand-off at once (the hand-off itself is tested elsewhere): without one,
    # each recording would wait through the hand-off's retries (about 30 s) against a dead address.
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    class Refuse(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            self.send_response(410)
            self.end_headers()

        def log_message(self, *args):
            pass

    panel = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    Thread(target=panel.serve_forever, daemon=True).start()
    env = {**live_env, "DIEMCAU_PANEL_INTERNAL_URL": f"http://127.0.0.1:{panel.server_address[1]}"}

    def recover() -> list[dict]:
        out = subprocess.run([str(Path(sys.executable).with_name("diemcau")), "media-server", "--recover"],
                             env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]

    # (Other tests' sessions may have left spools in the same spool folder: they are recovered too.)
    first = [m["event_id"] for m in recover()]
    assert ended.id in first and still_live.id not in first, first
    manifest = read_manifest(_spool(test_env, ended.id))
    assert manifest["status"] in ("joined", "handed_off") and manifest["crashed"] is True
    stored = Path(test_env["STORAGE_URL"]) / manifest["storage_key"]
    assert (probe_duration(stored) or 0) >= 2.0
    assert {s["codec_type"] for s in _streams(stored)["streams"]} == {"video", "audio"}
    assert read_manifest(_spool(test_env, still_live.id))["status"] == "recording"  # live: not touched

    still_live.stop()
    second = {m["event_id"]: m for m in recover()}
    assert still_live.id in second
    assert read_manifest(_spool(test_env, still_live.id))["status"] in ("joined", "handed_off")
    # The panel refused it, so the first recording is offered again for hand-off,
    # but it is not joined a second time.
    if ended.id in second:
        assert second[ended.id]["storage_key"] == manifest["storage_key"]
    panel.shutdown()
