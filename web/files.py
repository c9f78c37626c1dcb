"""Downloads of stored files through short-lived signed URLs.

With S3 the signed URL is a presigned S3 URL and the bytes never pass through Python; with local
storage this blueprint serves the file after checking the signature and its expiry.
"""
from __future__ import annotations

import time

from flask import Blueprint, abort, current_app, request, send_file, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from orchestrator import core

bp = Blueprint("files", __name__, url_prefix="/files")


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="diemcau.files")


def signed_url(key: str, expires_s: int = 900, filename: str | None = None) -> str:
    """A URL that lets its holder read one stored file until it expires. Callers check permissions first."""
    presigned = core.storage().presigned_url(key, expires_s=expires_s, filename=filename)
    if presigned:
        return presigned
    token = _signer().dumps({"k": key, "e": int(time.time()) + expires_s, "f": filename})
    return url_for("files.download", token=token)


@bp.get("/<token>")
def download(token: str):
    try:
        claims = _signer().loads(token)
    except BadSignature:
        abort(404)
    if claims["e"] < time.time():
        abort(410)
    path = core.storage().local_path(claims["k"])
    if path is None or not path.is_file():
        abort(404)
    name = claims.get("f")
    return send_file(path, as_attachment=bool(name), download_name=name, conditional=True,
                     max_age=0 if request.args.get("nocache") else 300)
