"""Edit decisions (pure): validating trims, mapping times, and re-timing subtitle cues."""

from __future__ import annotations

import pytest

from media import MediaError
from media.timeline import Timeline, shift_cues


def test_in_out_and_middle_cuts_become_kept_ranges() -> None:
    t = Timeline.from_edit(60.0, in_s=5, out_s=50, cuts=[(20, 25), (30, 32)])
    assert t.keep == ((5.0, 20.0), (25.0, 30.0), (32.0, 50.0))
    assert t.duration == 38.0
    assert (t.source_start, t.source_end) == (5.0, 50.0)


def test_defaults_keep_everything_and_overlapping_cuts_merge() -> None:
    assert Timeline.from_edit(10.0).keep == ((0.0, 10.0),)
    assert Timeline.from_edit(10.0).is_whole(10.0)
    t = Timeline.from_edit(10.0, cuts=[(2, 4), (3, 5), (5, 6)])
    assert t.keep == ((0.0, 2.0), (6.0, 10.0))


def test_times_snap_to_frames() -> None:
    t = Timeline.from_edit(10.0, in_s=1.013, out_s=8.987, cuts=[(4.01, 5.03)], fps=25)
    assert t.keep == ((1.0, 4.0), (5.04, 9.0))
    # A click a hair past the last frame still means "the end".
    assert Timeline.from_edit(10.0, out_s=10.04, fps=25).keep == ((0.0, 10.0),)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"in_s": -1}, "trim_out_of_range"),
        ({"out_s": 12}, "trim_out_of_range"),  # beyond the media
        ({"in_s": 6, "out_s": 4}, "trim_out_of_range"),  # reversed
        ({"cuts": [(8, 12)]}, "trim_out_of_range"),  # a cut past the out point
        ({"cuts": [(3, 2)]}, "trim_out_of_range"),
        ({"cuts": [(1,)]}, "trim_out_of_range"),
        ({"in_s": "abc"}, "trim_out_of_range"),
        ({"in_s": float("nan")}, "trim_out_of_range"),
        ({"cuts": [(0, 9.8)]}, "trim_empty"),  # 0.2 s left
    ],
)
def test_bad_edits_are_refused_with_a_code(kwargs: dict, code: str) -> None:
    with pytest.raises(MediaError) as exc:
        Timeline.from_edit(10.0, **kwargs)
    assert exc.value.code == code


def test_time_mapping_both_ways() -> None:
    t = Timeline(((5.0, 20.0), (25.0, 30.0)))
    assert t.to_edited(5.0) == 0.0 and t.to_edited(26.0) == 16.0
    assert t.to_edited(22.0) is None  # cut out
    assert t.to_source(0.0) == 5.0 and t.to_source(15.0) == 25.0 and t.to_source(16.5) == 26.5
    # An edited range across the join comes from two source ranges.
    assert t.source_ranges(10.0, 18.0) == [(15.0, 20.0), (25.0, 28.0)]
    assert t.sub(14.0, 16.0).keep == ((19.0, 20.0), (25.0, 26.0))
    with pytest.raises(MediaError):
        t.source_ranges(10.0, 25.0)


def test_from_ranges_rejects_overlaps() -> None:
    assert Timeline.from_ranges([[0, 1], [2, 3]]).duration == 2.0
    with pytest.raises(ValueError):
        Timeline.from_ranges([[0, 2], [1, 3]])
    with pytest.raises(ValueError):
        Timeline.from_ranges([])


CUES = [
    {"start": 0.5, "end": 2.0, "text": "trước điểm vào"},  # before the in point: dropped
    {"start": 4.0, "end": 6.0, "text": "qua điểm vào"},  # straddles the in point: clipped
    {"start": 7.0, "end": 9.0, "text": "giữ nguyên", "words": [{"start": 7.0, "end": 7.5, "w": "giữ"}]},
    {"start": 10.5, "end": 11.5, "text": "trong đoạn cắt"},  # inside a removed part: dropped
    {"start": 11.8, "end": 13.0, "text": "qua vết cắt"},  # across the cut: its kept halves join
    {"start": 14.0, "end": 14.2, "text": "ngắn"},  # short but wholly kept: stays
    {"start": 19.9, "end": 22.0, "text": "qua điểm ra"},  # 0.1 s left after the out point: dropped
]


def test_cues_follow_the_cut() -> None:
    t = Timeline.from_edit(30.0, in_s=5, out_s=20, cuts=[(10, 12)])  # keeps 5-10 and 12-20
    out = shift_cues(CUES, t)
    assert [(c["text"], c["start"], c["end"]) for c in out] == [
        ("qua điểm vào", 0.0, 1.0),
        ("giữ nguyên", 2.0, 4.0),
        ("qua vết cắt", 5.0, 6.0),  # 11.8-12 was removed, 12-13 -> 5-6
        ("ngắn", 7.0, 7.2),
    ]
    assert out[1]["words"] == [{"start": 2.0, "end": 2.5, "w": "giữ"}]
    assert CUES[2]["start"] == 7.0  # the input is not modified


def test_cue_spanning_a_cut_becomes_one_cue() -> None:
    t = Timeline(((0.0, 3.0), (5.0, 8.0)))
    (cue,) = shift_cues([{"start": 2.0, "end": 6.0, "text": "một câu dài"}], t)
    assert (cue["start"], cue["end"]) == (2.0, 4.0)


def test_whole_timeline_keeps_every_cue_unchanged() -> None:
    t = Timeline.whole(30.0)
    assert shift_cues(CUES, t) == [c for c in CUES if c["end"] <= 30.0]


def test_master_playlist_subtitle_group_round_trips() -> None:
    import m3u8

    from media.hls import SubtitleTrack, Variant, master_playlist_text, with_subtitles

    master = master_playlist_text([
        Variant("360p.m3u8", 900_000, 800_000, "avc1.64001e,mp4a.40.2", (640, 360)),
        Variant("audio.m3u8", 130_000, 128_000, "mp4a.40.2"),
    ])
    tracks = [SubtitleTrack("vi", "Tiếng Việt", "subs-vi.m3u8", default=True),
              SubtitleTrack("en", "English", "subs-en.m3u8")]
    text = with_subtitles(master, tracks)
    parsed = m3u8.loads(text)
    assert [(m.language, m.default, m.uri) for m in parsed.media] == [("vi", "YES", "subs-vi.m3u8"),
                                                                      ("en", "NO", "subs-en.m3u8")]
    assert [p.stream_info.subtitles for p in parsed.playlists] == ["subs", None]  # audio-only has no picture
    assert parsed.playlists[0].stream_info.codecs == "avc1.64001e,mp4a.40.2"  # quoted commas survive
    assert with_subtitles(text, tracks) == text  # idempotent
    assert with_subtitles(text, []) == master
