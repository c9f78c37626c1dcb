"""Storage behaviour, run against LocalStorage and against S3Storage talking HTTP to moto's S3 server.

The S3 side is a real S3 endpoint on loopback (moto in server mode), not patched boto3 calls, so
signing, multipart uploads, presigned URLs and key encoding all go over the wire.
"""
from __future__ import annotations

import datetime as dt
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from email.message import Message
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.http import parse_options_header

from groundwork import storage as storage_module
from groundwork.config import storage_for
from groundwork.storage import (
    TEMP_PREFIX,
    LocalStorage,
    MiB,
    NotFound,
    S3Storage,
    Storage,
    StorageError,
    content_disposition,
    guess_content_type,
    storage_from_url,
)
from tests.conftest import S3_ACCESS_KEY as ACCESS_KEY
from tests.conftest import S3_SECRET_KEY as SECRET_KEY

# No proxies: the presigned URLs point at 127.0.0.1 and must be fetched directly.
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def make_s3(s3_endpoint: str) -> Callable[..., S3Storage]:
    """A factory for S3Storage instances; every call without a bucket gets a fresh bucket."""

    def make(bucket: str | None = None, prefix: str = "diemcau", **kw: object) -> S3Storage:
        kw.setdefault("create_bucket", True)
        return S3Storage(
            bucket or f"test-{uuid.uuid4().hex[:16]}",
            prefix,
            endpoint_url=s3_endpoint,
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            **kw,  # type: ignore[arg-type]
        )

    return make


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "store")
    return request.getfixturevalue("make_s3")()


@pytest.fixture
def local(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "store")


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def fetch(url: str) -> tuple[int, Message, bytes]:
    """GET a URL; the headers come back as a case-insensitive Message."""
    try:
        with _http.open(url, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


# ---------------------------------------------------------------------------------------------
# Behaviour shared by both implementations
# ---------------------------------------------------------------------------------------------


def test_put_get_bytes_roundtrip(store: Storage) -> None:
    data = bytes(range(256)) * 3
    store.put_bytes("recordings/1/notes.bin", data)
    store.put_bytes("recordings/1/empty.txt", b"")
    assert store.get_bytes("recordings/1/notes.bin") == data
    assert store.get_bytes("recordings/1/empty.txt") == b""
    assert store.size("recordings/1/notes.bin") == len(data)
    assert store.size("recordings/1/empty.txt") == 0


def test_put_file_download_and_stream(store: Storage, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    source = write(tmp_path / "in" / "source.mp4", data)
    store.put_file("recordings/7/source/source.mp4", source)
    assert store.exists("recordings/7/source/source.mp4")
    assert store.size("recordings/7/source/source.mp4") == len(data)

    dest = tmp_path / "out" / "deep" / "copy.mp4"  # parents do not exist yet
    result = store.download("recordings/7/source/source.mp4", dest)
    assert result == dest
    assert dest.read_bytes() == data

    with store.open_stream("recordings/7/source/source.mp4") as stream:
        chunks = []
        while chunk := stream.read(65536):
            chunks.append(chunk)
    assert b"".join(chunks) == data

    with pytest.raises(StorageError):
        store.put_file("x/missing.mp4", tmp_path / "does-not-exist.mp4")
    assert not store.exists("x/missing.mp4")


def test_overwrite_replaces_content(store: Storage, tmp_path: Path) -> None:
    store.put_bytes("a/file.txt", b"a much longer first version")
    store.put_bytes("a/file.txt", b"short")
    assert store.get_bytes("a/file.txt") == b"short"
    assert store.size("a/file.txt") == 5

    store.put_file("a/file.txt", write(tmp_path / "v3.txt", b"third"))
    assert store.get_bytes("a/file.txt") == b"third"
    assert store.list("a") == ["a/file.txt"]

    dest = write(tmp_path / "dl" / "file.txt", b"stale local copy that is longer")
    store.download("a/file.txt", dest)
    assert dest.read_bytes() == b"third"


def test_missing_keys(store: Storage, tmp_path: Path) -> None:
    assert not store.exists("nope/missing.txt")
    for call in (
        lambda: store.get_bytes("nope/missing.txt"),
        lambda: store.size("nope/missing.txt"),
        lambda: store.open_stream("nope/missing.txt"),
        lambda: store.download("nope/missing.txt", tmp_path / "dl" / "missing.txt"),
    ):
        with pytest.raises(NotFound):
            call()
    assert not (tmp_path / "dl" / "missing.txt").exists()
    assert issubclass(NotFound, StorageError)
    assert store.list("nope") == []
    store.delete("nope/missing.txt")  # idempotent
    assert store.delete_prefix("nope") == 0


def test_folder_is_not_an_object(store: Storage) -> None:
    store.put_bytes("rec/1/media/a.m4s", b"x")
    assert not store.exists("rec/1")
    with pytest.raises(NotFound):
        store.get_bytes("rec/1/media")
    store.delete("rec/1/media")  # names no object: no-op
    assert store.exists("rec/1/media/a.m4s")


def test_list_is_folder_based_and_sorted(store: Storage) -> None:
    keys = ["rec/1/b.txt", "rec/1/a.txt", "rec/1/sub/c.txt", "rec/10/x.txt", "rec/1x", "other/y.txt"]
    for key in keys:
        store.put_bytes(key, key.encode())
    assert store.list("") == sorted(keys)
    assert store.list("rec/1") == ["rec/1/a.txt", "rec/1/b.txt", "rec/1/sub/c.txt"]
    assert store.list("rec/1/") == store.list("rec/1")
    assert store.list("rec/1/sub") == ["rec/1/sub/c.txt"]
    assert store.list("rec") == ["rec/1/a.txt", "rec/1/b.txt", "rec/1/sub/c.txt", "rec/10/x.txt", "rec/1x"]
    assert store.list("rec/1x") == []  # an object, not a folder
    assert store.list("rec/2") == []


def test_delete_and_delete_prefix(store: Storage) -> None:
    for key in ["rec/1/media/master.m3u8", "rec/1/media/720p/seg_1.m4s", "rec/1/media/720p/seg_2.m4s",
                "rec/1/source/in.mp4", "rec/10/media/master.m3u8"]:
        store.put_bytes(key, b"data")

    store.delete("rec/1/source/in.mp4")
    assert not store.exists("rec/1/source/in.mp4")
    store.delete("rec/1/source/in.mp4")  # again: still fine

    assert store.delete_prefix("rec/1/media/") == 3
    assert store.list("rec/1") == []
    assert store.list("") == ["rec/10/media/master.m3u8"]  # 'rec/1' did not match 'rec/10'
    assert store.delete_prefix("rec/1") == 0

    for prefix in ("", "/"):
        with pytest.raises(StorageError):
            store.delete_prefix(prefix)
    assert store.exists("rec/10/media/master.m3u8")


def _hls_tree(root: Path) -> dict[str, bytes]:
    files = {
        "master.m3u8": b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p/index.m3u8\n",
        "720p/index.m3u8": b"#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\nseg_001.m4s\n",
        "720p/init.mp4": b"init",
        "720p/seg_001.m4s": os.urandom(2048),
        "720p/seg_002.m4s": os.urandom(2048),
        "poster.jpg": b"\xff\xd8\xff",
        "subs/vi.vtt": "WEBVTT\n\n00:00.000 --> 00:01.000\nXin chào\n".encode(),
        "audio.m4a": b"audio",
    }
    for rel, data in files.items():
        write(root / rel, data)
    return files


EXPECTED_TYPES = {
    "master.m3u8": "application/vnd.apple.mpegurl",
    "720p/index.m3u8": "application/vnd.apple.mpegurl",
    "720p/init.mp4": "video/mp4",
    "720p/seg_001.m4s": "video/iso.segment",
    "720p/seg_002.m4s": "video/iso.segment",
    "poster.jpg": "image/jpeg",
    "subs/vi.vtt": "text/vtt",
    "audio.m4a": "audio/mp4",
}


def test_put_dir(store: Storage, tmp_path: Path) -> None:
    files = _hls_tree(tmp_path / "hls")
    keys = store.put_dir("recordings/3/media", tmp_path / "hls")
    assert keys == sorted(f"recordings/3/media/{rel}" for rel in files)
    assert store.list("recordings/3/media") == keys
    for rel, data in files.items():
        assert store.get_bytes(f"recordings/3/media/{rel}") == data
        assert guess_content_type(f"recordings/3/media/{rel}") == EXPECTED_TYPES[rel]

    # Trailing slash and an empty prefix (the store's top level) are accepted too.
    assert store.put_dir("recordings/4/", tmp_path / "hls") == sorted(f"recordings/4/{rel}" for rel in files)
    write(tmp_path / "flat" / "one.txt", b"1")
    assert store.put_dir("", tmp_path / "flat") == ["one.txt"]

    with pytest.raises(StorageError):
        store.put_dir("recordings/5", tmp_path / "no-such-dir")
    with pytest.raises(StorageError):
        store.put_dir("../escape", tmp_path / "hls")


def test_put_dir_uploads_playlists_last(
    store: Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _hls_tree(tmp_path / "hls")
    order: list[str] = []
    original = store.put_file

    def recording_put_file(key: str, path: str | Path, content_type: str | None = None) -> None:
        original(key, path, content_type)
        order.append(key)

    monkeypatch.setattr(store, "put_file", recording_put_file)
    store.put_dir("m", tmp_path / "hls")
    playlists = [i for i, key in enumerate(order) if key.endswith(".m3u8")]
    others = [i for i, key in enumerate(order) if not key.endswith(".m3u8")]
    assert len(order) == 8 and len(playlists) == 2
    assert min(playlists) > max(others)


BAD_KEYS = [
    "",
    "/etc/passwd",
    "../outside.txt",
    "a/../../outside.txt",
    "a/..",
    "..",
    ".",
    "a/./b",
    "a//b",
    "a/",
    "a\\..\\b",
    "..\\outside.txt",
    "a\x00b",
    "a\nb",
    f"a/{TEMP_PREFIX}123",
]


@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
def test_unsafe_keys_rejected(store: Storage, key: str, tmp_path: Path) -> None:
    source = write(tmp_path / "src.txt", b"x")
    calls = [
        lambda: store.put_bytes(key, b"x"),
        lambda: store.put_file(key, source),
        lambda: store.get_bytes(key),
        lambda: store.download(key, tmp_path / "dl.txt"),
        lambda: store.open_stream(key),
        lambda: store.exists(key),
        lambda: store.size(key),
        lambda: store.delete(key),
        lambda: store.presigned_url(key),
        lambda: store.local_path(key),
    ]
    for call in calls:
        with pytest.raises(StorageError) as info:
            call()
        assert not isinstance(info.value, NotFound)  # rejected, not looked up
    assert not (tmp_path / "outside.txt").exists()


@pytest.mark.parametrize("prefix", ["/abs", "../up", "a/../..", "a//b", "a\\b", "a\x00"], ids=repr)
def test_unsafe_prefixes_rejected(store: Storage, prefix: str, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    for call in (lambda: store.list(prefix), lambda: store.delete_prefix(prefix),
                 lambda: store.put_dir(prefix, tmp_path / "d")):
        with pytest.raises(StorageError):
            call()


def test_non_ascii_keys(store: Storage, tmp_path: Path) -> None:
    keys = [
        "sự kiện/Báo cáo tháng 11.mp4",
        "Điểm Cầu/phụ đề/tiếng Việt.vtt",
        "表/字幕 🎬.txt",
        "a b/c+d&e=f%20.txt",  # characters with a meaning in URLs
    ]
    for key in keys:
        store.put_bytes(key, key.encode("utf-8"))
    assert store.list("") == sorted(keys)
    assert store.list("sự kiện") == ["sự kiện/Báo cáo tháng 11.mp4"]
    for key in keys:
        assert store.exists(key)
        assert store.get_bytes(key) == key.encode("utf-8")
        assert store.size(key) == len(key.encode("utf-8"))
    assert store.download(keys[0], tmp_path / "Báo cáo.mp4").read_bytes() == keys[0].encode()
    store.delete(keys[1])
    assert store.delete_prefix("表") == 1
    assert store.list("") == sorted([keys[0], keys[3]])


# ---------------------------------------------------------------------------------------------
# LocalStorage
# ---------------------------------------------------------------------------------------------


def _all_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_local_writes_leave_no_temp_files(local: LocalStorage, tmp_path: Path) -> None:
    _hls_tree(tmp_path / "hls")
    local.put_bytes("a/b.txt", b"1")
    local.put_bytes("a/b.txt", b"2")
    local.put_file("a/c.bin", write(tmp_path / "c.bin", os.urandom(10_000)))
    keys = local.put_dir("hls", tmp_path / "hls")
    local.download("a/c.bin", tmp_path / "dl" / "c.bin")
    assert _all_files(local.root) == sorted(["a/b.txt", "a/c.bin", *keys])
    assert os.listdir(tmp_path / "dl") == ["c.bin"]


def test_local_failed_write_keeps_old_content(local: LocalStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    local.put_bytes("a/b.txt", b"old")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storage_module.os, "replace", broken_replace)
    with pytest.raises(StorageError):
        local.put_bytes("a/b.txt", b"new")
    monkeypatch.undo()
    assert local.get_bytes("a/b.txt") == b"old"
    assert _all_files(local.root) == ["a/b.txt"]


def test_local_reader_keeps_old_version_during_overwrite(local: LocalStorage) -> None:
    local.put_bytes("v.bin", b"A" * 100_000)
    with local.open_stream("v.bin") as stream:
        head = stream.read(10)
        local.put_bytes("v.bin", b"B" * 50)  # os.replace swaps the name, the open file is intact
        rest = stream.read()
    assert head + rest == b"A" * 100_000
    assert local.get_bytes("v.bin") == b"B" * 50


def test_local_ignores_leftover_temp_files(local: LocalStorage) -> None:
    local.put_bytes("rec/a.txt", b"a")
    write(local.root / "rec" / f"{TEMP_PREFIX}deadbeef", b"partial write of a killed process")
    assert local.list("") == ["rec/a.txt"]
    assert local.delete_prefix("rec") == 1


def test_local_paths_and_no_presigned_url(local: LocalStorage, tmp_path: Path) -> None:
    local.put_bytes("rec/Báo cáo.txt", b"x")
    path = local.local_path("rec/Báo cáo.txt")
    assert path == local.root / "rec" / "Báo cáo.txt"
    assert path is not None and path.read_bytes() == b"x"
    assert local.presigned_url("rec/Báo cáo.txt") is None
    assert local.presigned_url("rec/Báo cáo.txt", 60, filename="Báo cáo.txt") is None
    # Owner and group only (tests/orchestrator/test_file_modes.py); a stricter umask narrows it further.
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o640 & ~umask


def test_local_delete_prunes_empty_folders(local: LocalStorage) -> None:
    local.put_bytes("rec/1/media/720p/a.m4s", b"x")
    local.put_bytes("rec/1/keep.txt", b"x")
    local.delete("rec/1/media/720p/a.m4s")
    assert not (local.root / "rec" / "1" / "media").exists()
    assert local.delete_prefix("rec/1") == 1
    assert not (local.root / "rec").exists()
    assert local.root.is_dir()
    local.put_bytes("rec/1/again.txt", b"y")  # folders are recreated on demand
    assert local.list("rec") == ["rec/1/again.txt"]


def test_local_key_below_an_object_fails_cleanly(local: LocalStorage) -> None:
    local.put_bytes("a", b"file")
    with pytest.raises(StorageError):
        local.put_bytes("a/b", b"x")
    assert _all_files(local.root) == ["a"]


# ---------------------------------------------------------------------------------------------
# S3Storage (moto server)
# ---------------------------------------------------------------------------------------------


def test_s3_multipart_upload(make_s3: Callable[..., S3Storage], tmp_path: Path) -> None:
    s3 = make_s3(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    data = os.urandom(12 * MiB)
    source = write(tmp_path / "big.mp4", data)
    s3.put_file("recordings/9/source/big.mp4", source)

    head = s3.client.head_object(Bucket=s3.bucket, Key="diemcau/recordings/9/source/big.mp4")
    assert head["ETag"].strip('"').endswith("-3")  # 5 + 5 + 2 MiB parts
    assert head["ContentType"] == "video/mp4"
    assert s3.size("recordings/9/source/big.mp4") == len(data)
    assert s3.download("recordings/9/source/big.mp4", tmp_path / "back.mp4").read_bytes() == data
    assert s3.get_bytes("recordings/9/source/big.mp4") == data


def test_s3_small_upload_is_single_part(make_s3: Callable[..., S3Storage], tmp_path: Path) -> None:
    s3 = make_s3()  # defaults: 64 MiB threshold
    assert s3.transfer_config.multipart_threshold == 64 * MiB
    assert s3.transfer_config.multipart_chunksize == 16 * MiB
    s3.put_file("small.bin", write(tmp_path / "small.bin", os.urandom(MiB)))
    head = s3.client.head_object(Bucket=s3.bucket, Key="diemcau/small.bin")
    assert "-" not in head["ETag"]


def test_s3_stored_content_types(make_s3: Callable[..., S3Storage], tmp_path: Path) -> None:
    s3 = make_s3()
    _hls_tree(tmp_path / "hls")
    s3.put_dir("media", tmp_path / "hls")
    for rel, expected in EXPECTED_TYPES.items():
        head = s3.client.head_object(Bucket=s3.bucket, Key=f"diemcau/media/{rel}")
        assert head["ContentType"] == expected, rel
    s3.put_bytes("subs/vi.vtt", b"WEBVTT\n", "text/vtt; charset=utf-8")
    s3.put_bytes("blob", b"x")
    assert s3.client.head_object(Bucket=s3.bucket, Key="diemcau/subs/vi.vtt")["ContentType"] == (
        "text/vtt; charset=utf-8"
    )
    blob = s3.client.head_object(Bucket=s3.bucket, Key="diemcau/blob")
    assert blob["ContentType"] == "application/octet-stream"


def test_s3_presigned_url_roundtrip(make_s3: Callable[..., S3Storage]) -> None:
    s3 = make_s3()
    data = os.urandom(70_000)
    s3.put_bytes("recordings/2/media/out.mp4", data)
    url = s3.presigned_url("recordings/2/media/out.mp4", expires_s=300)
    assert url is not None and url.startswith(s3.endpoint_url or "")
    status, headers, body = fetch(url)
    assert status == 200
    assert body == data
    assert headers.get("Content-Type") == "video/mp4"
    assert s3.local_path("recordings/2/media/out.mp4") is None


def test_s3_presigned_url_vietnamese_filename(make_s3: Callable[..., S3Storage]) -> None:
    s3 = make_s3()
    s3.put_bytes("sự kiện/bản ghi.mp4", b"video bytes")
    url = s3.presigned_url("sự kiện/bản ghi.mp4", filename="Báo cáo tháng 11.mp4")
    assert url is not None
    status, headers, body = fetch(url)
    assert (status, body) == (200, b"video bytes")
    header = headers["Content-Disposition"]
    assert header == (
        'attachment; filename="Bao cao thang 11.mp4"; '
        "filename*=UTF-8''B%C3%A1o%20c%C3%A1o%20th%C3%A1ng%2011.mp4"
    )
    # Decode it as an RFC 6266 client does: filename* (RFC 5987) wins over the ASCII fallback.
    assert parse_options_header(header) == ("attachment", {"filename": "Báo cáo tháng 11.mp4"})


def test_s3_presigned_url_expiry(make_s3: Callable[..., S3Storage]) -> None:
    s3 = make_s3()
    s3.put_bytes("short.txt", b"soon gone")
    url = s3.presigned_url("short.txt", expires_s=1)
    assert url is not None
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["1"]
    signed_at = dt.datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    assert abs((dt.datetime.now(dt.UTC) - signed_at).total_seconds()) < 60
    assert fetch(url)[0] == 200

    time.sleep(2)
    # By its own signed parameters the URL has now expired; real S3 answers 403 AccessDenied.
    assert dt.datetime.now(dt.UTC) > signed_at + dt.timedelta(seconds=1)
    status, _headers, _body = fetch(url)
    if status == 200:
        pytest.xfail("moto's S3 server does not enforce X-Amz-Expires on presigned URLs")
    assert status == 403


def test_s3_presigned_url_bounds(make_s3: Callable[..., S3Storage]) -> None:
    s3 = make_s3()
    for bad in (0, -5, 7 * 24 * 3600 + 1):
        with pytest.raises(StorageError):
            s3.presigned_url("k.txt", expires_s=bad)
    assert s3.presigned_url("k.txt", expires_s=7 * 24 * 3600) is not None


def test_s3_public_endpoint_for_presigned_urls(make_s3: Callable[..., S3Storage]) -> None:
    s3 = make_s3(public_endpoint_url="https://media.example.org")
    url = s3.presigned_url("a/b.mp4")
    assert url is not None and url.startswith(f"https://media.example.org/{s3.bucket}/diemcau/a/b.mp4?")


def test_s3_prefixes_isolate_tenants(make_s3: Callable[..., S3Storage]) -> None:
    bucket = f"test-{uuid.uuid4().hex[:16]}"
    one = make_s3(bucket=bucket, prefix="site-one")
    two = make_s3(bucket=bucket, prefix="site-two/")
    bare = make_s3(bucket=bucket, prefix="")
    one.put_bytes("rec/a.txt", b"1")
    two.put_bytes("rec/a.txt", b"2")
    assert one.list("") == ["rec/a.txt"] and one.get_bytes("rec/a.txt") == b"1"
    assert two.get_bytes("rec/a.txt") == b"2"
    assert bare.list("") == ["site-one/rec/a.txt", "site-two/rec/a.txt"]
    assert one.delete_prefix("rec") == 1
    assert two.exists("rec/a.txt")


def test_s3_bucket_creation(make_s3: Callable[..., S3Storage]) -> None:
    missing = make_s3(create_bucket=False)
    with pytest.raises(StorageError) as info:
        missing.put_bytes("a.txt", b"x")
    assert not isinstance(info.value, NotFound)
    assert not missing.exists("a.txt")

    regional = make_s3(region="eu-west-1")
    regional.put_bytes("a.txt", b"x")
    location = regional.client.get_bucket_location(Bucket=regional.bucket)["LocationConstraint"]
    assert location == "eu-west-1"

    # A second instance (another worker) finds the bucket already there.
    again = make_s3(bucket=regional.bucket, region="eu-west-1")
    again.put_bytes("b.txt", b"y")
    assert again.list("") == ["a.txt", "b.txt"]


def test_s3_delete_prefix_in_batches(
    make_s3: Callable[..., S3Storage], monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = make_s3()
    s3.delete_batch_size = 2
    for i in range(5):
        s3.put_bytes(f"rec/{i}.ts", b"x")
    s3.put_bytes("other/keep.ts", b"x")
    calls: list[int] = []
    real = s3.client.delete_objects

    def spy(**kwargs: object) -> object:
        calls.append(len(kwargs["Delete"]["Objects"]))  # type: ignore[index]
        return real(**kwargs)

    monkeypatch.setattr(s3.client, "delete_objects", spy)
    assert s3.delete_prefix("rec") == 5
    assert calls == [2, 2, 1]
    assert s3.list("") == ["other/keep.ts"]


def test_s3_client_rebuilt_after_fork(make_s3: Callable[..., S3Storage]) -> None:
    s3 = make_s3()
    first = s3.client
    assert s3.client is first
    s3._client_pid = -1  # what a forked RQ work horse sees: a different pid than the creator's
    assert s3.client is not first


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_s3_storage_usable_in_forked_child(make_s3: Callable[..., S3Storage]) -> None:
    """RQ forks a work horse per job; the storage built in the parent must work in the child."""
    s3 = make_s3()
    s3.put_bytes("parent.txt", b"p")  # the parent's client and connections exist before the fork
    pid = os.fork()
    if pid == 0:  # child: report through the exit status only, never return into pytest
        code = 1
        try:
            s3.put_bytes("child.txt", s3.get_bytes("parent.txt") + b"c")
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert s3.get_bytes("child.txt") == b"pc"


# ---------------------------------------------------------------------------------------------
# Helpers and storage_from_url
# ---------------------------------------------------------------------------------------------


def test_guess_content_type() -> None:
    assert guess_content_type("a/index.M3U8") == "application/vnd.apple.mpegurl"
    assert guess_content_type("seg.m4s") == "video/iso.segment"
    assert guess_content_type("x.vtt") == "text/vtt"
    assert guess_content_type("x.jpeg") == "image/jpeg"
    assert guess_content_type("x.ts") == "video/mp2t"
    assert guess_content_type("x.srt") == "application/x-subrip"
    assert guess_content_type("noext") == "application/octet-stream"


def test_content_disposition() -> None:
    assert content_disposition("report.mp4") == 'attachment; filename="report.mp4"'
    assert content_disposition("Điểm Cầu.mp4") == (
        "attachment; filename=\"Diem Cau.mp4\"; filename*=UTF-8''%C4%90i%E1%BB%83m%20C%E1%BA%A7u.mp4"
    )
    quoted = content_disposition('say "hi".txt')
    assert quoted.startswith('attachment; filename="say _hi_.txt"; filename*=')
    # Folders and control characters (header injection) are dropped.
    assert content_disposition("../../etc/pa\r\nX-Evil: 1.txt") == 'attachment; filename="paX-Evil: 1.txt"'
    assert content_disposition("") == 'attachment; filename="download"'


def test_storage_from_url_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = storage_from_url(f"file://{tmp_path}/a%20b")
    assert isinstance(store, LocalStorage) and store.root == tmp_path / "a b"
    store = storage_from_url(f"file://localhost{tmp_path}/c")
    assert isinstance(store, LocalStorage) and store.root == tmp_path / "c"
    store = storage_from_url(str(tmp_path / "plain"))
    assert isinstance(store, LocalStorage) and store.root == tmp_path / "plain" and store.root.is_dir()
    monkeypatch.chdir(tmp_path)
    store = storage_from_url("data/storage", endpoint_url="http://ignored")
    assert isinstance(store, LocalStorage) and store.root == tmp_path / "data" / "storage"
    for bad in ("", "file://otherhost/x", "ftp://host/x", "s3://", "s3:///prefix"):
        with pytest.raises(StorageError):
            storage_from_url(bad)


def test_storage_for_takes_s3_endpoint_and_credentials_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3_ENDPOINT_URL", "http://minio.local:9000")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "env-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_REGION", "ap-southeast-1")
    store = storage_for("s3://media-bucket/site/vn", create_bucket=True, multipart_threshold=8 * MiB)
    assert isinstance(store, S3Storage)
    assert (store.bucket, store.prefix, store.endpoint_url, store.region) == (
        "media-bucket", "site/vn/", "http://minio.local:9000", "ap-southeast-1")
    assert store.create_bucket and store.transfer_config.multipart_threshold == 8 * MiB
    creds = store.client._request_signer._credentials
    assert (creds.access_key, creds.secret_key) == ("env-key", "env-secret")

    store = storage_from_url("s3://media-bucket", endpoint_url="http://other:9000", access_key="k",
                             secret_key="s", region="eu-central-1")
    assert isinstance(store, S3Storage)
    assert (store.prefix, store.endpoint_url, store.region) == ("", "http://other:9000", "eu-central-1")
    assert store.client._request_signer._credentials.access_key == "k"

    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("S3_ENDPOINT_URL")
    store = storage_for("s3://media-bucket")
    assert isinstance(store, S3Storage)
    assert (store.endpoint_url, store.region, store.addressing_style) == (None, "us-east-1", "auto")


def test_storage_from_url_s3_end_to_end(s3_endpoint: str) -> None:
    bucket = f"test-{uuid.uuid4().hex[:16]}"
    store = storage_from_url(f"s3://{bucket}/from-url", endpoint_url=s3_endpoint, access_key=ACCESS_KEY,
                             secret_key=SECRET_KEY, create_bucket=True)
    store.put_bytes("x/y.txt", b"ok")
    assert store.get_bytes("x/y.txt") == b"ok"
    assert store.list("x") == ["x/y.txt"]
