"""Cascade: origin → relay → relay on loopback; the leaves get the program, a relay whose parent
goes away reconnects and resumes, and a relay moves a viewer that cannot keep up to the lower
rendition without dragging the others down."""
from __future__ import annotations

import asyncio

from media.live.client import publish
from media.live.synthetic import PatternVideo, ToneAudio
from tests.media_server.live_clients import Viewer, congest_then_heal, run, wait_for


def test_three_levels_deliver_to_the_leaves_and_relays_resume(media_servers, live_event):
    province = media_servers(log_name="media-cascade.log")
    district = media_servers(["--relay-parent", province.url, "--relay-id", "1"], log_name="media-cascade.log")
    commune = media_servers(["--relay-parent", district.url, "--relay-id", "2"], log_name="media-cascade.log")
    event = live_event()

    async def scenario():
        host = await publish(f"{province.url}/whip/{event.id}", event.token("host"),
                             [PatternVideo(320, 180, 25, luma=(150, 236)), ToneAudio()])
        leaves = [await Viewer().connect(commune.url, event.id, event.token("site", s)) for s in (11, 12)]
        middle = await Viewer().connect(district.url, event.id, event.token("site", 10))
        assert await wait_for(lambda: all(v.video_frames > 40 and v.audio_frames > 50 for v in [*leaves, middle]),
                              30), [(v.video_frames, v.audio_frames) for v in [*leaves, middle]]
        for leaf in leaves:
            assert leaf.sizes == {(640, 360)} and leaf.luma[-1] > 100   # the host's bright picture
        # Each level serves its own children: the province sees only the district relay, which takes
        # both renditions once and passes their packets on (it encodes nothing itself).
        upstream = province.rooms()[str(event.id)]["subscribers"]
        assert sorted((s["label"], s["rendition"]) for s in upstream) == [("relay:1", "180p"), ("relay:1", "360p")]
        relay_room = district.rooms()[str(event.id)]
        assert relay_room["relay"] and relay_room["ticks"] == 0 and relay_room["recording"] is None
        # The district relay dies and comes back (same port): the commune reconnects to it and the
        # leaves, which kept their connections, receive the program again.
        district.kill()
        await asyncio.sleep(1.0)
        district.start()
        before = [v.video_frames for v in leaves]
        assert await wait_for(lambda: all(v.video_frames > b + 50 for v, b in zip(leaves, before, strict=True)),
                              40), [v.video_frames for v in leaves]
        # …and the host's picture again, not the relay's slate (shown while its uplink was down).
        assert await wait_for(lambda: all(v.luma[-1] > 100 for v in leaves), 20), [v.luma[-3:] for v in leaves]
        for v in [*leaves, middle]:
            await v.close()
        await host.close()

    run(scenario(), timeout=120)


def test_a_relay_moves_a_viewer_that_cannot_keep_up_to_the_lower_rendition(media_servers, live_event):
    province = media_servers(log_name="media-cascade.log")
    district = media_servers(["--relay-parent", province.url, "--relay-id", "1"], log_name="media-cascade.log")
    event = live_event()

    async def scenario():
        host = await publish(f"{province.url}/whip/{event.id}", event.token("host"),
                             [PatternVideo(320, 240, 25), ToneAudio()])
        good = await Viewer().connect(district.url, event.id, event.token("site", 10))
        lossy = await Viewer().connect(district.url, event.id, event.token("site", 11))
        assert await wait_for(lambda: good.video_frames > 10 and lossy.video_frames > 10, 20)
        outcome = await congest_then_heal(district, event.id, good, lossy, "site:11")
        for v in (good, lossy):
            await v.close()
        await host.close()
        return outcome, good

    outcome, good = run(scenario(), timeout=120)
    room = outcome["room"]
    assert outcome["moved"] and outcome["decoded"], room["subscribers"]
    assert room["relay"] and room["ticks"] == 0          # passed through: the relay encoded nothing
    assert (640, 360) in good.sizes and outcome["good_kept_going"]
