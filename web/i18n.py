"""Vietnamese by default, English on request (a cookie, or the user's saved choice)."""
from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import request
from flask_babel import gettext
from flask_login import current_user

LOCALES = ("vi", "en")
TRANSLATIONS = Path(__file__).with_name("translations")
SCRIPTS = Path(__file__).with_name("static") / "js"
# The scripts mark their strings as _("…") or gettext("…"); web/babel.cfg extracts them with the rest.
SCRIPT_KEYWORDS = {"_": None, "gettext": None}


def select_locale() -> str:
    chosen = request.cookies.get("lang")
    if chosen in LOCALES:
        return chosen
    if getattr(current_user, "is_authenticated", False) and current_user.locale in LOCALES:
        return current_user.locale
    return "vi"


def select_timezone() -> str:
    return "Asia/Ho_Chi_Minh"


def compile_translations() -> None:
    """Compile .po to .mo when the .mo is missing or older, so a fresh clone needs no build step."""
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with open(po, "rb") as f:
            catalog = read_po(f)
        tmp = mo.with_suffix(".mo.tmp")
        with open(tmp, "wb") as f:
            write_mo(f, catalog)
        tmp.replace(mo)


@cache
def script_msgids() -> tuple[str, ...]:
    """The strings the scripts in web/static/js mark for translation, found the way pybabel extract finds them."""
    found = extract_from_dir(str(SCRIPTS), method_map=[("**.js", "javascript")], keywords=SCRIPT_KEYWORDS)
    return tuple(sorted({message for _file, _line, message, _comments, _context in found
                         if isinstance(message, str) and message}))


def script_catalogue() -> dict[str, str]:
    """The scripts' strings in the page's language: base.html renders it as JSON for app.js's _()."""
    return {msgid: gettext(msgid) for msgid in script_msgids()}
