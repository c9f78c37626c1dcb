"""Choosing NVENC or libx264: by what `ffmpeg -encoders` lists and whether a trial encode works.

There is no GPU here, so the GPU cases run against small stand-in ffmpeg executables (shell
scripts answering `-encoders` and the trial encode like an ffmpeg on a GPU machine would); the
real ffmpeg of this machine is also asked, and must end on libx264.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from media import encoders
from media.encoders import choose_encoder, listed_encoders, trial_encode
from media.ladder import plan_rungs
from media.transcode import EncodeOptions, _video_encoder_args

ENCODERS_LISTING = """Encoders:
 V..... = Video
 A..... = Audio
 ------
 V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (codec h264)
{nvenc} A....D aac                  AAC (Advanced Audio Coding)
"""
NVENC_LINE = " V....D h264_nvenc           NVIDIA NVENC H.264 encoder (codec h264)\n"


def fake_ffmpeg(tmp_path: Path, *, lists_nvenc: bool, nvenc_works: bool) -> str:
    """An executable that behaves like ffmpeg for `-encoders` and for the NVENC trial encode."""
    listing = ENCODERS_LISTING.format(nvenc=NVENC_LINE if lists_nvenc else "")
    trial = (
        "exit 0"
        if nvenc_works
        else 'echo "[h264_nvenc @ 0x1] Cannot load libcuda.so.1" >&2; '
        'echo "Error initializing output stream 0:0 -- Error while opening encoder" >&2; exit 1'
    )
    script = tmp_path / f"ffmpeg-{lists_nvenc}-{nvenc_works}"
    script.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do\n'
        '  if [ "$a" = "-encoders" ]; then cat <<\'EOF\'\n' + listing + "EOF\n    exit 0\n  fi\n"
        '  if [ "$a" = "h264_nvenc" ]; then ' + trial + "; fi\n"
        "done\n"
        "exit 2\n",
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.fixture(autouse=True)
def _fresh_cache():
    encoders.clear_cache()
    yield
    encoders.clear_cache()


def test_gpu_with_nvenc_is_chosen(tmp_path: Path) -> None:
    ff = fake_ffmpeg(tmp_path, lists_nvenc=True, nvenc_works=True)
    assert "h264_nvenc" in listed_encoders(ff)
    choice = choose_encoder("auto", ff)
    assert choice.encoder == "h264_nvenc" and choice.hardware


def test_listed_but_no_gpu_falls_back_to_cpu(tmp_path: Path) -> None:
    ff = fake_ffmpeg(tmp_path, lists_nvenc=True, nvenc_works=False)
    ok, message = trial_encode("h264_nvenc", ff)
    assert not ok and message == "Error initializing output stream 0:0 -- Error while opening encoder"
    choice = choose_encoder("auto", ff)
    assert choice.encoder == "libx264" and not choice.hardware
    assert "trial encode failed" in choice.reason


def test_ffmpeg_without_nvenc_uses_cpu(tmp_path: Path) -> None:
    ff = fake_ffmpeg(tmp_path, lists_nvenc=False, nvenc_works=True)
    choice = choose_encoder("auto", ff)
    assert choice.encoder == "libx264" and "no h264_nvenc" in choice.reason


def test_configured_cpu_never_probes_the_gpu(tmp_path: Path) -> None:
    ff = fake_ffmpeg(tmp_path, lists_nvenc=True, nvenc_works=True)
    assert choose_encoder("libx264", ff).encoder == "libx264"


def test_configured_nvenc_still_falls_back_when_it_cannot_run(tmp_path: Path) -> None:
    assert choose_encoder("h264_nvenc", fake_ffmpeg(tmp_path, lists_nvenc=True, nvenc_works=False)).encoder == "libx264"
    assert choose_encoder("H264_NVENC", fake_ffmpeg(tmp_path, lists_nvenc=True, nvenc_works=True)).encoder == (
        "h264_nvenc"
    )


def test_unknown_preference_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="unknown video encoder"):
        choose_encoder("quicksync")


def test_missing_ffmpeg_means_cpu(tmp_path: Path) -> None:
    assert choose_encoder("auto", str(tmp_path / "no-such-ffmpeg")).encoder == "libx264"


def test_this_machine_real_ffmpeg() -> None:
    """The real thing: this machine's ffmpeg (Debian's lists h264_nvenc; there is no GPU here)."""
    choice = choose_encoder("auto")
    if "h264_nvenc" in listed_encoders() and trial_encode("h264_nvenc")[0]:
        assert choice.encoder == "h264_nvenc"  # a GPU machine
    else:
        assert choice.encoder == "libx264"
    assert trial_encode("libx264")[0]  # the fallback itself must work


def test_nvenc_ladder_arguments_keep_gops_closed_and_aligned() -> None:
    rungs = plan_rungs(1920, 1080, (1080, 720))
    args = _video_encoder_args(rungs, 25, EncodeOptions(video_encoder="h264_nvenc", preset="veryfast"))
    assert args["c:v"] == "h264_nvenc" and args["preset:v"] == "p2"
    assert args["forced-idr:v"] == 1 and args["no-scenecut:v"] == 1 and args["g:v"] == 50
    assert args["force_key_frames:v"] == "expr:gte(t,n_forced*2)"
    assert args["b:v:0"] < args["maxrate:v:0"] and args["b:v:1"] < args["maxrate:v:1"]
    cpu = _video_encoder_args(rungs, 25, EncodeOptions())
    assert cpu["c:v"] == "libx264" and cpu["sc_threshold:v"] == 0 and "forced-idr:v" not in cpu
