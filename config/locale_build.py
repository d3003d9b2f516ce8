"""Compile locale/*/LC_MESSAGES/*.po into the .mo files Django reads (run by `make install`).

In Python (polib) rather than with GNU msgfmt, so that installing needs nothing beyond the
lock file. Refuses a catalogue with a fuzzy or missing translation, or one whose
placeholders differ from its msgid's: such a string would show English, or fail to format.

    python -m config.locale_build [--check]     (--check: validate only, write nothing)
"""

import re
import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def problems(po: polib.POFile) -> list[str]:
    found = []
    for entry in po:
        if entry.obsolete:
            continue
        targets = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        if "fuzzy" in entry.flags or not all(targets):
            found.append(f"untranslated: {entry.msgid!r}")
            continue
        wanted = set(PLACEHOLDER.findall(entry.msgid))
        for target in targets:
            if set(PLACEHOLDER.findall(target)) != wanted:
                found.append(f"placeholders differ: {entry.msgid!r} -> {target!r}")
    return found


def build(*, check_only: bool = False) -> list[str]:
    errors = []
    for po_path in sorted((ROOT / "locale").glob("*/LC_MESSAGES/*.po")):
        po = polib.pofile(str(po_path))
        errors += [f"{po_path.relative_to(ROOT)}: {p}" for p in problems(po)]
        if not check_only:
            po.save_as_mofile(str(po_path.with_suffix(".mo")))
    return errors


if __name__ == "__main__":
    found = build(check_only="--check" in sys.argv)
    for line in found:
        print(line, file=sys.stderr)
    sys.exit(1 if found else 0)
