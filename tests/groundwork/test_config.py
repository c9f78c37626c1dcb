"""groundwork.config: every environment variable the product reads, read there and documented once."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from groundwork.config import Options, force_ctranslate2_isa, load_settings, options

ROOT = Path(__file__).resolve().parents[2]


def variables_read_by_the_settings() -> set[str]:
    source = (ROOT / "groundwork" / "config.py").read_text(encoding="utf-8")
    return set(re.findall(r"""["']((?:DIEMCAU|CT2|S3|AWS|DATABASE|REDIS|STORAGE|SECRET)_?[A-Z0-9_]*)["']""", source))


def variables_in_the_configuration_table() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split(" | ")[0])}


def test_every_variable_the_settings_read_is_in_the_one_table_and_back():
    read, documented = variables_read_by_the_settings(), variables_in_the_configuration_table()
    assert read - documented == set(), "read but not in the README's Configuration table"
    assert documented - read == set(), "in the table but read nowhere"


def test_options_read_every_knob():
    env = {"DIEMCAU_LIVE_RENDITIONS": "640x360@800", "DIEMCAU_LIVE_FPS": "25", "DIEMCAU_LIVE_NAIVE": "1",
           "DIEMCAU_LIVE_CONNECT_TIMEOUT_S": "7.5", "DIEMCAU_ICE_HOSTS": " 127.0.0.1, ,10.0.0.2 ",
           "DIEMCAU_ICE_SERVERS": "stun:a:3478,turn:u:p@b:3478", "DIEMCAU_RELAY_ID": "4",
           "DIEMCAU_OUTBOUND_ALLOW": "wp.local, 10.0.0.0/8", "DIEMCAU_MEDIA_BASE_URL": "https://m.example/vn/",
           "DIEMCAU_EMBED_ANCESTORS": " https://a.gov.vn ", "DIEMCAU_CREDENTIALS_KEY": "k1,k2",
           "DIEMCAU_ASR_CHUNKED_ABOVE_S": "not a number", "DIEMCAU_MODEL_CACHE": "~/models",
           "CT2_FORCE_CPU_ISA": "AVX2", "AWS_DEFAULT_REGION": "ap-southeast-1", "S3_ENDPOINT_URL": "http://minio:9000"}
    opts = options(env)
    assert (opts.live_renditions, opts.live_fps, opts.live_naive, opts.live_connect_timeout_s) == (
        "640x360@800", 25, True, 7.5)
    assert opts.ice_hosts == ("127.0.0.1", "10.0.0.2") and opts.ice_servers == ("stun:a:3478", "turn:u:p@b:3478")
    assert opts.relay_id == 4 and opts.outbound_allow == ("wp.local", "10.0.0.0/8")
    assert opts.media_base_url == "https://m.example/vn" and opts.embed_ancestors == "https://a.gov.vn"
    assert opts.credentials_keys == ("k1", "k2")
    assert opts.asr_chunked_above_s == 120.0      # unreadable: the default, as before
    assert opts.model_cache == Path("~/models").expanduser() and opts.ct2_force_cpu_isa == "AVX2"
    assert (opts.aws_region, opts.s3_endpoint_url) == ("ap-southeast-1", "http://minio:9000")
    assert options({}) == Options()


def test_options_follow_the_environment_at_each_call(monkeypatch):
    monkeypatch.setenv("DIEMCAU_PORTAL_CACHE_S", "9")
    assert options().portal_cache_s == 9.0
    monkeypatch.delenv("DIEMCAU_PORTAL_CACHE_S")
    assert options().portal_cache_s == 5.0


def test_load_settings_reads_the_environment_it_is_given(monkeypatch, tmp_path):
    monkeypatch.setenv("DIEMCAU_MAX_UPLOAD_MB", "7")
    monkeypatch.setenv("DIEMCAU_WHISPER_THREADS", "7")
    settings = load_settings({"DIEMCAU_DATA_DIR": str(tmp_path / "data"), "DIEMCAU_MAX_UPLOAD_MB": "3",
                              "DIEMCAU_MEDIA_PORT": "9001", "DIEMCAU_WEB_PORT": "5123"})
    assert settings.max_upload_bytes == 3 * 1024 * 1024
    assert settings.whisper_threads == 0          # not the process's 7: the environment given has none
    assert (settings.media_port, settings.web_port) == (9001, 5123)


def test_force_ctranslate2_isa_is_the_one_writer_and_an_operator_wins(monkeypatch):
    monkeypatch.delitem(sys.modules, "ctranslate2", raising=False)
    monkeypatch.setenv("CT2_FORCE_CPU_ISA", "AVX2")
    assert force_ctranslate2_isa("AVX512") is False and os.environ["CT2_FORCE_CPU_ISA"] == "AVX2"
    monkeypatch.delenv("CT2_FORCE_CPU_ISA")
    assert force_ctranslate2_isa("AVX512") is True and os.environ["CT2_FORCE_CPU_ISA"] == "AVX512"
    monkeypatch.delenv("CT2_FORCE_CPU_ISA")
    monkeypatch.setitem(sys.modules, "ctranslate2", object())   # loaded: too late to choose
    assert force_ctranslate2_isa("AVX512") is False and "CT2_FORCE_CPU_ISA" not in os.environ


@pytest.mark.parametrize("name", ["DIEMCAU_LIVE_FPS", "DIEMCAU_X264_CRF", "DIEMCAU_PUBLISH_LEASE_S"])
def test_an_unreadable_number_names_its_variable(name):
    with pytest.raises(ValueError, match=f"{name}='abc'"):
        options({name: "abc"})
