"""Object storage for recordings, HLS renditions, subtitles and posters.

One interface, two implementations:

* ``LocalStorage`` keeps objects as files under a root folder (a fresh install, tests, small sites).
* ``S3Storage`` keeps them in an S3 bucket (AWS, MinIO, Ceph, ...) through boto3.

Keys are '/'-separated relative names such as ``recordings/12/media/720p/seg_001.m4s``. They are
validated the same way for both backends, so a key that works locally also works on S3 and no key
can climb out of the local root folder. This module must not import Flask: the RQ workers use it too.
"""
from __future__ import annotations

import mimetypes
import os
import secrets
import shutil
import threading
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, unquote, urlsplit

MiB = 1024 * 1024

# A presigned SigV4 URL cannot live longer than 7 days.
MAX_PRESIGN_EXPIRY_S = 7 * 24 * 3600

# Temp files of atomic local writes start with this. Keys may not use it, so a temp file left by a
# killed process can never be mistaken for an object (list() skips them).
TEMP_PREFIX = ".~storage-tmp-"

# Explicit types for the media we produce: the system mimetypes table differs between hosts and
# often lacks m3u8/m4s/vtt, and players are picky about HLS content types.
CONTENT_TYPES: dict[str, str] = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".m3u": "audio/mpegurl",
    ".mpd": "application/dash+xml",
    ".m4s": "video/iso.segment",
    ".ts": "video/mp2t",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".mov": "video/quicktime",
    ".vtt": "text/vtt",
    ".srt": "application/x-subrip",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".txt": "text/plain",
    ".pdf": "application/pdf",
    ".zip": "application/zip",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"

# put_dir uploads these last, so a player never reads a playlist naming a segment not yet uploaded.
_MANIFEST_SUFFIXES = (".m3u8", ".mpd")


# Local storage is readable by its owner and group only (a web server in front of it joins the group).
FILE_MODE = 0o640
DIR_MODE = 0o750


def make_private_dirs(path: Path, mode: int = DIR_MODE) -> None:
    """mkdir -p where every folder it creates gets `mode` (Path.mkdir gives parents the umask's mode)."""
    missing = []
    while not path.exists():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        with suppress(FileExistsError):
            folder.mkdir(mode=mode)


class StorageError(Exception):
    """Any storage failure: invalid key, backend error, I/O error."""


class NotFound(StorageError):
    """The key does not name an object."""


def guess_content_type(name: str) -> str:
    """The content type for a key or file name, from its extension (case-insensitive)."""
    suffix = os.path.splitext(name)[1].lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    return mimetypes.guess_type(name, strict=False)[0] or DEFAULT_CONTENT_TYPE


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative object name, else raise StorageError.

    Rejected: empty keys, absolute keys, backslashes, control characters (NUL included), and
    empty, '.' or '..' segments. Non-ASCII characters are allowed.
    """
    if not isinstance(key, str) or not key:
        raise StorageError("storage key must be a non-empty string")
    if key.startswith("/"):
        raise StorageError(f"storage key must be relative: {key!r}")
    if "\\" in key:
        raise StorageError(f"storage key must not contain backslashes: {key!r}")
    # Control characters (NUL in particular) break file systems, HTTP headers and logs.
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in key):
        raise StorageError(f"storage key must not contain control characters: {key!r}")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise StorageError(f"storage key has an empty, '.' or '..' segment: {key!r}")
        if segment.startswith(TEMP_PREFIX):
            raise StorageError(f"storage key uses the reserved prefix {TEMP_PREFIX!r}: {key!r}")
    return key


def check_prefix(prefix: str) -> str:
    """Normalise a folder-like prefix to ``''`` or ``'a/b/'`` (validated like a key).

    Prefixes are whole folders, not string prefixes: ``list('rec/1')`` does not return
    ``rec/10/x``. One trailing '/' is accepted and ignored.
    """
    if not isinstance(prefix, str):
        raise StorageError("storage prefix must be a string")
    if prefix == "":
        return ""
    stripped = prefix.removesuffix("/")
    return check_key(stripped) + "/"


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """A Content-Disposition value that keeps non-ASCII names (RFC 6266 / RFC 5987).

    Old clients read the ASCII ``filename=`` fallback; current browsers use ``filename*``.
    """
    # Only the last path component, without control characters (no header injection).
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip() or "download"
    # 'đ' has no Unicode decomposition, so NFKD alone would drop it from Vietnamese names.
    folded = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    fallback = "".join(
        "_" if c in '"\\' else c for c in folded.encode("ascii", "ignore").decode("ascii")
    ).strip() or "download"
    if fallback == name:
        return f'{disposition}; filename="{name}"'
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _source_file(path: str | Path) -> Path:
    source = Path(path)
    if not source.is_file():
        raise StorageError(f"not a file: {source}")
    return source


class Storage(ABC):
    """Where media objects live. All keys are validated with :func:`check_key`."""

    @abstractmethod
    def put_file(self, key: str, path: str | Path, content_type: str | None = None) -> None:
        """Store the file at ``path`` under ``key`` (replacing it). The type defaults to a guess."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        """Store ``data`` under ``key`` (replacing it). The type defaults to a guess."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """The whole object. Raises NotFound."""

    @abstractmethod
    def download(self, key: str, path: str | Path) -> Path:
        """Copy the object to the local file ``path`` (parents created, written atomically)."""

    @abstractmethod
    def open_stream(self, key: str) -> BinaryIO:
        """A readable binary stream of the object, for streaming responses. The caller closes it."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def size(self, key: str) -> int:
        """Size in bytes. Raises NotFound."""

    @abstractmethod
    def list(self, prefix: str) -> list[str]:
        """All keys under the folder ``prefix`` (recursively), sorted. ``''`` lists everything."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete the object. Deleting a missing key is not an error (retries stay idempotent)."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under the folder ``prefix``; returns how many were deleted."""

    @abstractmethod
    def presigned_url(self, key: str, expires_s: int = 3600, filename: str | None = None) -> str | None:
        """A time-limited direct download URL, or None when the web layer must serve the object.

        With ``filename`` the download is offered as an attachment with that name.
        """

    def public_origin(self) -> str | None:
        """scheme://host of the presigned URLs browsers fetch (for the pages' CSP), None when none."""
        return None

    @abstractmethod
    def local_path(self, key: str) -> Path | None:
        """The object's file when the backend is the local disk (it may not exist), else None."""

    def put_dir(self, prefix: str, directory: str | Path) -> list[str]:
        """Upload every file under ``directory`` to ``prefix/relative/path``; returns the keys, sorted.

        Content types are guessed from extensions. Playlists (.m3u8, .mpd) are uploaded after
        everything else so readers never see a playlist before its segments.
        """
        base = check_prefix(prefix)
        root = Path(directory)
        if not root.is_dir():
            raise StorageError(f"not a directory: {root}")
        items: list[tuple[str, Path]] = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                path = Path(dirpath, name)
                if path.is_file():
                    # Validate every key before uploading anything: no half-uploaded folder.
                    items.append((check_key(base + path.relative_to(root).as_posix()), path))
        media = [item for item in items if not item[0].lower().endswith(_MANIFEST_SUFFIXES)]
        manifests = [item for item in items if item[0].lower().endswith(_MANIFEST_SUFFIXES)]
        self._put_files(media)
        self._put_files(manifests)
        return sorted(key for key, _ in items)

    def _put_files(self, items: list[tuple[str, Path]]) -> None:
        for key, path in items:
            self.put_file(key, path, guess_content_type(key))


class LocalStorage(Storage):
    """Objects as files under ``root``. Writes are atomic: readers see the old or the new file, never
    a partial one, and a crash leaves at most a temp file that list() ignores.

    Symlinks inside ``root`` are followed on purpose (an admin may mount a bigger disk there); keys
    themselves can never point outside ``root``. Content types are not stored: whoever serves a
    file guesses it with :func:`guess_content_type`.
    """

    def __init__(self, root: str | Path, *, fsync: bool = True) -> None:
        self.root = Path(root).expanduser().resolve()
        self.fsync = fsync
        try:
            make_private_dirs(self.root)
        except OSError as exc:
            raise StorageError(f"cannot create storage root {self.root}: {exc}") from exc

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def _dir(self, prefix: str) -> Path:
        base = check_prefix(prefix)
        return self.root.joinpath(*base.rstrip("/").split("/")) if base else self.root

    def _atomic_write(self, dest: Path, write: Callable[[BinaryIO], None]) -> None:
        """Write to a temp file in the destination folder, fsync, then os.replace over ``dest``."""
        tmp: Path | None = None
        try:
            for attempt in range(3):
                make_private_dirs(dest.parent)
                tmp = dest.parent / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
                try:
                    # FILE_MODE, not the umask's 0644: stored files include confidential events'
                    # documents and recordings. A stricter umask still narrows it.
                    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
                    fd = os.open(tmp, flags, FILE_MODE)
                    break
                except FileNotFoundError:
                    # A concurrent delete pruned the freshly created empty folder; create it again.
                    tmp = None
                    if attempt == 2:
                        raise
            with os.fdopen(fd, "wb") as fh:
                write(fh)
                fh.flush()
                if self.fsync:
                    os.fsync(fh.fileno())
            os.replace(tmp, dest)
            tmp = None
            if self.fsync:
                self._fsync_dir(dest.parent)  # make the rename itself durable
        except (OSError, ValueError) as exc:
            raise StorageError(f"cannot write {dest}: {exc}") from exc
        finally:
            if tmp is not None:
                with suppress(OSError):
                    tmp.unlink(missing_ok=True)

    @staticmethod
    def _fsync_dir(directory: Path) -> None:
        try:
            fd = os.open(directory, os.O_RDONLY)
        except OSError:
            return  # not supported everywhere (e.g. Windows); the data itself is already synced
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def _prune_empty_dirs(self, start: Path) -> None:
        """Remove empty folders from ``start`` up to (not including) the root."""
        current = start
        while current != self.root and self.root in current.parents:
            try:
                current.rmdir()
            except OSError:
                return  # not empty, or already gone: stop
            current = current.parent

    def put_file(self, key: str, path: str | Path, content_type: str | None = None) -> None:
        dest = self._path(key)
        source = _source_file(path)

        def write(fh: BinaryIO) -> None:
            with source.open("rb") as src:
                shutil.copyfileobj(src, fh, 4 * MiB)

        self._atomic_write(dest, write)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        def write(fh: BinaryIO) -> None:
            fh.write(data)

        self._atomic_write(self._path(key), write)

    def get_bytes(self, key: str) -> bytes:
        with self.open_stream(key) as fh:
            return fh.read()

    def download(self, key: str, path: str | Path) -> Path:
        dest = Path(path)
        with self.open_stream(key) as src:
            self._atomic_write(dest, lambda fh: shutil.copyfileobj(src, fh, 4 * MiB))
        return dest

    def open_stream(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            return path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise NotFound(key) from exc
        except OSError as exc:
            raise StorageError(f"cannot open {key!r}: {exc}") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        path = self._path(key)
        if not path.is_file():
            raise NotFound(key)
        try:
            return path.stat().st_size
        except FileNotFoundError as exc:
            raise NotFound(key) from exc

    def _walk(self, prefix: str) -> Iterator[tuple[str, Path]]:
        base = self._dir(prefix)
        if not base.is_dir():
            return
        # followlinks: folders symlinked into the root by an admin hold objects too.
        for dirpath, _dirnames, filenames in os.walk(base, followlinks=True):
            for name in filenames:
                if name.startswith(TEMP_PREFIX):
                    continue
                path = Path(dirpath, name)
                if path.is_file():
                    yield path.relative_to(self.root).as_posix(), path

    def list(self, prefix: str) -> list[str]:
        return sorted(key for key, _ in self._walk(prefix))

    def delete(self, key: str) -> None:
        path = self._path(key)
        if not path.is_file():
            return  # missing, or a folder of other keys: nothing named by this key
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot delete {key!r}: {exc}") from exc
        self._prune_empty_dirs(path.parent)

    def delete_prefix(self, prefix: str) -> int:
        if check_prefix(prefix) == "":
            # An empty prefix would wipe the whole store; nothing in the app needs that.
            raise StorageError("delete_prefix needs a non-empty prefix")
        count = 0
        for _key, path in list(self._walk(prefix)):
            try:
                path.unlink()
                count += 1
            except FileNotFoundError:
                pass  # deleted concurrently
            except OSError as exc:
                raise StorageError(f"cannot delete {path}: {exc}") from exc
        base = self._dir(prefix)
        if base.is_dir():
            # Remove the emptied folders bottom-up; folders still holding temp files stay.
            for dirpath, _dirnames, _filenames in os.walk(base, topdown=False):
                with suppress(OSError):
                    os.rmdir(dirpath)
            self._prune_empty_dirs(base.parent)
        return count

    def presigned_url(self, key: str, expires_s: int = 3600, filename: str | None = None) -> str | None:
        check_key(key)
        return None  # no URL of its own: the web layer serves local_path() through its signed route

    def local_path(self, key: str) -> Path | None:
        return self._path(key)


class _SharedSession:
    """The process-wide boto3 Session, created on first use."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.lock = threading.Lock()
        self.session: Any = None


_shared = _SharedSession()
if hasattr(os, "register_at_fork"):
    # The child must not reuse the parent's Session, nor a lock another thread held at fork time.
    os.register_at_fork(after_in_child=_shared.reset)


@contextmanager
def _s3_errors(key: str | None = None) -> Iterator[None]:
    """Turn boto3/botocore exceptions into StorageError / NotFound."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if key is not None and code in ("NoSuchKey", "404", "NotFound"):
            raise NotFound(key) from exc
        where = f" for {key!r}" if key is not None else ""
        raise StorageError(f"S3 error {code or '?'}{where}: {error.get('Message') or exc}") from exc
    except (BotoCoreError, Boto3Error) as exc:
        where = f" for {key!r}" if key is not None else ""
        raise StorageError(f"S3 failure{where}: {exc}") from exc


class S3Storage(Storage):
    """Objects in an S3 bucket, optionally under a key prefix.

    ``multipart_threshold`` / ``multipart_chunksize`` control when put_file and download switch to
    multipart transfers. With ``create_bucket=True`` the bucket is created on first use if it
    does not exist (convenient for MinIO in development). ``public_endpoint_url`` signs presigned
    URLs for a different host than the one the servers use (e.g. ``http://minio:9000`` inside
    Docker, ``https://media.example.org`` for browsers).
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
        create_bucket: bool = False,
        multipart_threshold: int = 64 * MiB,
        multipart_chunksize: int = 16 * MiB,
        max_concurrency: int = 8,
        addressing_style: str | None = None,
        public_endpoint_url: str | None = None,
    ) -> None:
        from boto3.s3.transfer import TransferConfig

        if not bucket or "/" in bucket:
            raise StorageError(f"invalid bucket name: {bucket!r}")
        self.bucket = bucket
        self.prefix = check_prefix(prefix)
        self.endpoint_url = endpoint_url or None
        self.public_endpoint_url = public_endpoint_url or None
        self.region = region or "us-east-1"
        self.create_bucket = create_bucket
        self.max_concurrency = max(1, max_concurrency)
        # Custom endpoints (MinIO, moto, Ceph) are usually IPs or single-label hosts where
        # virtual-hosted bucket names cannot resolve, so they get path-style addressing.
        self.addressing_style = addressing_style or ("path" if self.endpoint_url else "auto")
        self._credentials = {
            "aws_access_key_id": access_key or None,
            "aws_secret_access_key": secret_key or None,
            "aws_session_token": session_token or None,
        }
        self.transfer_config = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize,
            max_concurrency=self.max_concurrency,
            use_threads=True,
        )
        self.delete_batch_size = 1000  # DeleteObjects takes at most 1000 keys per request
        self._clients: dict[str | None, Any] = {}
        self._client_pid: int | None = None
        self._bucket_ready = False

    def __repr__(self) -> str:
        return f"S3Storage({self.bucket!r}, prefix={self.prefix!r}, endpoint_url={self.endpoint_url!r})"

    def _make_client(self, endpoint_url: str | None) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": self.addressing_style},
            retries={"max_attempts": 5, "mode": "standard"},
            max_pool_connections=max(10, 2 * self.max_concurrency),
            connect_timeout=10,
            read_timeout=120,
            # boto3 >= 1.36 adds CRC checksums to every upload by default, which several
            # S3-compatible servers reject; only send/verify them where S3 requires it.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        with _shared.lock:  # creating clients from a shared Session is not thread-safe
            if _shared.session is None:
                # One Session per process: it caches the parsed service models, which makes every
                # further client cheap (building a Session and an S3 client costs ~0.2 s of CPU).
                _shared.session = boto3.session.Session()
            return _shared.session.client(
                "s3", endpoint_url=endpoint_url, region_name=self.region, config=config, **self._credentials
            )

    def _client_for(self, endpoint_url: str | None) -> Any:
        # RQ forks a work horse per job; a client (and its sockets) inherited through fork must not
        # be shared with the parent, so each process builds its own.
        pid = os.getpid()
        if self._client_pid != pid:
            self._clients = {}
            self._client_pid = pid
        client = self._clients.get(endpoint_url)
        if client is None:
            client = self._clients[endpoint_url] = self._make_client(endpoint_url)
        return client

    @property
    def client(self) -> Any:
        """The boto3 S3 client of this process."""
        return self._client_for(self.endpoint_url)

    @property
    def _s3(self) -> Any:
        """The client, after making sure the bucket exists when create_bucket is set."""
        self._ensure_bucket()
        return self.client

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _ensure_bucket(self) -> None:
        if self._bucket_ready or not self.create_bucket:
            return
        from botocore.exceptions import ClientError

        with _s3_errors():
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code")) not in ("404", "NoSuchBucket", "NotFound"):
                    raise
                params: dict[str, Any] = {"Bucket": self.bucket}
                if self.region != "us-east-1":  # us-east-1 rejects an explicit LocationConstraint
                    params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
                try:
                    self.client.create_bucket(**params)
                except ClientError as create_exc:
                    # Another process won the race.
                    if create_exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                        raise
        self._bucket_ready = True

    def put_file(self, key: str, path: str | Path, content_type: str | None = None) -> None:
        full = self._key(key)
        source = _source_file(path)
        with _s3_errors(key):
            self._s3.upload_file(
                str(source), self.bucket, full,
                ExtraArgs={"ContentType": content_type or guess_content_type(key)},
                Config=self.transfer_config,
            )

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        full = self._key(key)
        with _s3_errors(key):
            self._s3.put_object(
                Bucket=self.bucket, Key=full, Body=bytes(data),
                ContentType=content_type or guess_content_type(key),
            )

    def _put_files(self, items: list[tuple[str, Path]]) -> None:
        # HLS folders hold hundreds of small segments: upload them concurrently.
        if len(items) <= 1:
            super()._put_files(items)
            return
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            futures = [pool.submit(self.put_file, key, path, guess_content_type(key)) for key, path in items]
            for future in futures:
                future.result()  # re-raise the first failure

    def get_bytes(self, key: str) -> bytes:
        with self.open_stream(key) as body, _s3_errors(key):
            return body.read()

    def download(self, key: str, path: str | Path) -> Path:
        full = self._key(key)
        dest = Path(path)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create {dest.parent}: {exc}") from exc
        # s3transfer writes to a temp name next to dest and renames it when complete.
        with _s3_errors(key):
            self._s3.download_file(self.bucket, full, str(dest), Config=self.transfer_config)
        return dest

    def open_stream(self, key: str) -> BinaryIO:
        full = self._key(key)
        with _s3_errors(key):
            return self._s3.get_object(Bucket=self.bucket, Key=full)["Body"]

    def _head(self, key: str) -> dict[str, Any]:
        full = self._key(key)
        with _s3_errors(key):
            return self._s3.head_object(Bucket=self.bucket, Key=full)

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
        except NotFound:
            return False
        return True

    def size(self, key: str) -> int:
        return int(self._head(key)["ContentLength"])

    def _iter_keys(self, prefix: str) -> Iterable[str]:
        """Full (bucket) keys under the folder ``prefix``."""
        full_prefix = self.prefix + check_prefix(prefix)
        with _s3_errors(prefix):
            paginator = self._s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix):
                for obj in page.get("Contents", ()):
                    yield obj["Key"]

    def list(self, prefix: str) -> list[str]:
        strip = len(self.prefix)
        return sorted(full[strip:] for full in self._iter_keys(prefix))

    def delete(self, key: str) -> None:
        full = self._key(key)
        with _s3_errors(key):
            self._s3.delete_object(Bucket=self.bucket, Key=full)

    def delete_prefix(self, prefix: str) -> int:
        if check_prefix(prefix) == "":
            raise StorageError("delete_prefix needs a non-empty prefix")
        count = 0
        batch: list[str] = []

        def flush() -> None:
            nonlocal count
            with _s3_errors(prefix):
                response = self._s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
                )
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise StorageError(
                    f"could not delete {len(errors)} object(s) under {prefix!r}: "
                    f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}"
                )
            count += len(batch)
            batch.clear()

        # Collect first, then delete: deleting while paginating could skip keys.
        for full in list(self._iter_keys(prefix)):
            batch.append(full)
            if len(batch) >= self.delete_batch_size:
                flush()
        if batch:
            flush()
        return count

    def public_origin(self) -> str | None:
        endpoint = self.public_endpoint_url or self.endpoint_url
        if endpoint:
            parts = urlsplit(endpoint)
            return f"{parts.scheme}://{parts.netloc}"
        return "https://*.amazonaws.com"  # AWS's own hosts: bucket.s3.region.amazonaws.com and others

    def presigned_url(self, key: str, expires_s: int = 3600, filename: str | None = None) -> str | None:
        full = self._key(key)
        if not 1 <= int(expires_s) <= MAX_PRESIGN_EXPIRY_S:
            raise StorageError(f"expires_s must be between 1 and {MAX_PRESIGN_EXPIRY_S}: {expires_s}")
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": full}
        if filename:
            params["ResponseContentDisposition"] = content_disposition(filename)
        client = self._client_for(self.public_endpoint_url or self.endpoint_url)
        with _s3_errors(key):
            return client.generate_presigned_url("get_object", Params=params, ExpiresIn=int(expires_s))

    def local_path(self, key: str) -> Path | None:
        check_key(key)
        return None


def storage_from_url(
    url: str,
    *,
    endpoint_url: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    region: str | None = None,
    **kw: Any,
) -> Storage:
    """Build a Storage from a STORAGE_URL.

    * ``file:///abs/path`` or a plain path -> LocalStorage
    * ``s3://bucket`` or ``s3://bucket/prefix`` -> S3Storage; `groundwork.config.storage_for` passes
      the endpoint, credentials and region of the settings (S3_ENDPOINT_URL, AWS_*).

    Extra keyword arguments go to the constructor (e.g. ``create_bucket=True``).
    """
    if not isinstance(url, str) or not url.strip():
        raise StorageError("empty storage URL")
    url = url.strip()
    lowered = url.lower()
    if lowered.startswith("s3://"):
        parts = urlsplit(url)
        bucket = parts.netloc
        if not bucket:
            raise StorageError(f"S3 storage URL needs a bucket: {url!r}")
        return S3Storage(
            bucket,
            unquote(parts.path).strip("/"),
            endpoint_url=endpoint_url,
            access_key=access_key,
            secret_key=secret_key,
            region=region,
            **kw,
        )
    if lowered.startswith("file:"):
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise StorageError(f"file URL must be local: {url!r}")
        path = unquote(parts.path)
        if not path:
            raise StorageError(f"file URL needs a path: {url!r}")
        return LocalStorage(path, **kw)
    if "://" in url:
        raise StorageError(f"unsupported storage URL scheme: {url!r}")
    return LocalStorage(url, **kw)


__all__ = [
    "CONTENT_TYPES",
    "TEMP_PREFIX",
    "LocalStorage",
    "MiB",
    "NotFound",
    "S3Storage",
    "Storage",
    "StorageError",
    "check_key",
    "check_prefix",
    "content_disposition",
    "guess_content_type",
    "storage_from_url",
]
