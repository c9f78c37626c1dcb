"""The Vietnamese catalogue (web/translations/vi/LC_MESSAGES/messages.po) is the source translators
edit: every string the code, the templates and the scripts mark for translation is in it, translated and
reviewed (not fuzzy), and the scripts' strings reach the pages."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "web" / "translations" / "vi" / "LC_MESSAGES" / "messages.po"


def _catalogue():
    with open(CATALOGUE, "rb") as f:
        return read_po(f, locale="vi")


def _extract(tmp_path: Path):
    """The template of every marked string, extracted as README's Translations section says."""
    pot = tmp_path / "messages.pot"
    subprocess.run([str(Path(sys.executable).with_name("pybabel")), "extract", "-F", "web/babel.cfg", "-k", "_l",
                    "--no-location", "-o", str(pot), "."], cwd=ROOT, check=True, capture_output=True)
    with open(pot, "rb") as f:
        return read_po(f)


def test_every_vietnamese_entry_is_translated_and_reviewed():
    catalogue = _catalogue()
    assert not catalogue.fuzzy, "the catalogue's header is marked fuzzy: pybabel compile would skip it"
    untranslated = [m.id for m in catalogue if m.id and not (all(m.string) if m.pluralizable else m.string)]
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    assert untranslated == [], f"untranslated: {untranslated}"
    assert fuzzy == [], f"fuzzy (review them in Poedit, then clear the flag): {fuzzy}"


def test_every_extracted_string_is_in_the_catalogue(tmp_path):
    template = _extract(tmp_path)
    catalogue = _catalogue()
    missing = [m.id for m in template if m.id and m.id not in catalogue]
    assert missing == [], f"run pybabel update (README, Translations): {missing}"


def test_scripts_strings_are_extracted_and_served_to_pages(app, tmp_path):
    from web.i18n import script_msgids

    template = _extract(tmp_path)
    assert "Ready." in template and "Preparing the sheet failed. Try again." in template
    assert {"Not prepared yet.", "Ready."} <= set(script_msgids())
    page = app.test_client().get("/login")
    found = re.search(r'<script type="application/json" id="js-catalogue">(.*?)</script>', page.get_data(as_text=True),
                      re.S)
    assert found, "the page carries no catalogue for its scripts"
    served = json.loads(found.group(1))
    assert set(served) == set(script_msgids())
    assert served["Ready."] == "Đã xong." and served["Preparing…"] == "Đang chuẩn bị…"
    english = app.test_client()
    english.set_cookie("lang", "en")
    found = re.search(r'id="js-catalogue">(.*?)</script>', english.get("/login").get_data(as_text=True), re.S)
    assert json.loads(found.group(1))["Ready."] == "Ready."
