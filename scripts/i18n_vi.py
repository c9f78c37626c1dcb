"""Rebuild web/translations/vi/LC_MESSAGES/messages.po from the source strings and the Vietnamese
translations in scripts/i18n/vi_*.py. Run after changing user-facing text: .venv/bin/python scripts/i18n_vi.py"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]


def load_translations() -> dict[str, str]:
    """Merge the VI dicts of every scripts/i18n/vi_*.py (one file per feature, so features don't collide)."""
    import importlib.util

    merged: dict[str, str] = {}
    for path in sorted((ROOT / "scripts" / "i18n").glob("vi_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        merged.update(module.VI)
    return merged


def main() -> int:
    pot = ROOT / "build" / "messages.pot"
    pot.parent.mkdir(exist_ok=True)
    subprocess.run([str(Path(sys.executable).with_name("pybabel")), "extract", "-F",
                    str(ROOT / "web" / "babel.cfg"), "-k", "_l", "-o", str(pot), str(ROOT)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(pot, "rb") as f:
        catalog = read_po(f, locale="vi")
    translations = load_translations()
    missing = []
    for message in catalog:
        if message.id:
            message.string = translations.get(message.id, "")
            if not message.string:
                missing.append(message.id)
    out = ROOT / "web" / "translations" / "vi" / "LC_MESSAGES" / "messages.po"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:
        write_po(f, catalog, omit_header=False, no_location=True, width=120)
    for msg in missing:
        print(f"untranslated: {msg!r}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
