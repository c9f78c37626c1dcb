"""Hostile "media": playlists, concat scripts and protocol tricks that ask ffmpeg to read other
files of the server or to reach its network, with the tripwires that tell whether it did.

- `Canary`: a FIFO named like a recording (or a key) in a "server" folder. Opening it for reading
  blocks until a writer comes, so a watcher that keeps trying a non-blocking open for writing
  sees every open, however short: it counts it and, the first time, serves real media through it
  (so code that follows the reference gets something to transcode and publish, as on a server).
- `LoopbackServer`: an HTTP server on 127.0.0.1 that counts the requests it receives.
- `hostile_cases(...)`: the corpus, as text files to upload, each with the MediaError code the
  probe must answer.
"""

from __future__ import annotations

import base64
import errno
import http.server
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests.media_helpers import ffmpeg


def make_payload(path: Path) -> Path:
    """A small real MPEG-TS (picture and sound): what a followed reference would deliver."""
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=2", "-f", "lavfi", "-i",
           "sine=frequency=440:duration=2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
           "-shortest", "-f", "mpegts", str(path))
    return path


class Canary:
    """A server file nobody may read: every open for reading is counted (see the module docstring)."""

    def __init__(self, path: Path, payload: bytes) -> None:
        self.path = path
        self.payload = payload
        self.reads = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name=f"canary-{path.name}")
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: no reader has it open
                    raise
                time.sleep(0.002)
                continue
            self.reads += 1
            try:
                # The content once; later opens see an empty file. A demuxer that reopens a
                # non-seekable file to "seek" in it would otherwise loop on fresh copies forever.
                if self.reads == 1:
                    self._write(fd)
            finally:
                os.close(fd)

    def _write(self, fd: int, timeout_s: float = 10.0) -> None:
        view, deadline = memoryview(self.payload), time.monotonic() + timeout_s
        while view and time.monotonic() < deadline:
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:  # the reader is not reading (yet)
                time.sleep(0.002)
            except OSError:  # the reader closed early (EPIPE): it still opened the file
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class LoopbackServer:
    """HTTP on 127.0.0.1 that serves `payload` for any path and counts every request."""

    def __init__(self, payload: bytes) -> None:
        self.requests: list[str] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                owner.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "video/mp2t")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_HEAD(self) -> None:  # noqa: N802
                owner.requests.append("HEAD " + self.path)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Trap:
    """The server files and the loopback service a hostile file points at."""

    root: Path  # tmp root: uploads/ and server/ live under it
    recording: Canary  # server/secret-recording.ts
    key: Canary  # server/secret.key
    http: LoopbackServer
    payload: bytes

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    def touched(self) -> dict[str, object]:
        return {"recording_reads": self.recording.reads, "key_reads": self.key.reads,
                "http_requests": list(self.http.requests)}

    def untouched(self) -> dict[str, object]:
        return {"recording_reads": 0, "key_reads": 0, "http_requests": []}

    def close(self) -> None:
        self.recording.close()
        self.key.close()
        self.http.close()

    def cases(self) -> list[HostileCase]:
        return hostile_cases(self.recording.path, self.key.path, self.http.url, self.payload)

    def case(self, name: str) -> HostileCase:
        return next(c for c in self.cases() if c.name == name)


def open_trap(root: Path, payload: bytes) -> Trap:
    """Canaries under `root`/server, an empty `root`/uploads and a loopback server; close() after."""
    (root / "uploads").mkdir(parents=True)
    return Trap(root, Canary(root / "server" / "secret-recording.ts", payload),
                Canary(root / "server" / "secret.key", b"0123456789abcdef"), LoopbackServer(payload), payload)


@dataclass(frozen=True)
class HostileCase:
    name: str  # also the test id
    suffix: str  # the name it arrives with; every case is also tried renamed to .mp4
    text: str
    code: str  # what probe must answer


def _hls(*entries: str, head: str = "") -> str:
    body = "".join(f"#EXTINF:2.0,\n{e}\n" for e in entries)
    return f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n{head}{body}#EXT-X-ENDLIST\n"


def hostile_cases(secret: Path, key: Path, url: str, payload: bytes) -> list[HostileCase]:
    """The corpus, pointing at the recording `secret`, the key `key` and the HTTP server `url`."""
    inline = base64.b64encode(payload).decode()
    return [
        HostileCase("hls-file-url", ".m3u8", _hls(f"file://{secret}"), "playlist"),
        HostileCase("hls-absolute-path", ".m3u8", _hls(str(secret)), "playlist"),
        HostileCase("hls-relative-path", ".m3u8", _hls(f"../server/{secret.name}"), "playlist"),
        HostileCase("hls-subfile", ".m3u8", _hls(f"subfile,,start,0,end,0,,:{secret}"), "playlist"),
        HostileCase("hls-data-uri", ".m3u8", _hls(f"data:video/mp2t;base64,{inline}"), "playlist"),
        HostileCase("hls-loopback-http", ".m3u8", _hls(f"{url}/segment.ts"), "playlist"),
        HostileCase("hls-concat-protocol", ".m3u8", _hls(f"concat:{secret}|{secret}"), "playlist"),
        HostileCase("hls-key-file", ".m3u8",
                    _hls(f"{url}/encrypted.ts", head=f'#EXT-X-KEY:METHOD=AES-128,URI="file://{key}"\n'), "playlist"),
        HostileCase("hls-key-unquoted", ".m3u8",
                    _hls("segment.ts", head=f"#EXT-X-KEY:METHOD=AES-128,URI=file://{key},IV=0x0\n"), "playlist"),
        HostileCase("hls-master-http", ".m3u8",
                    f"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=100000\n{url}/variant.m3u8\n", "playlist"),
        HostileCase("ffconcat-file", ".ffconcat", f"ffconcat version 1.0\nfile '{secret}'\n", "playlist"),
        HostileCase("ffconcat-http", ".ffconcat", f"ffconcat version 1.0\nfile '{url}/segment.ts'\n", "playlist"),
        HostileCase("tty-text", ".txt", f"file://{secret}\n" + "Biên bản cuộc họp.\n" * 40, "not_media"),
    ]


CASE_NAMES = tuple(c.name for c in hostile_cases(Path("/s"), Path("/k"), "http://127.0.0.1:1", b""))
