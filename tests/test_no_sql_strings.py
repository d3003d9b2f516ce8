"""Application code speaks the ORM: no SQL strings outside migrations (tests and bench may).

A raw statement is a cost every later reader pays (docs/architecture.md, "The booking
path"); this test makes adding one a decision someone has to argue for.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("calendars", "bookings", "contacts", "workflows", "config")
# Calls that send SQL written by hand: connection.cursor(), cursor.execute(many),
# Model.objects.raw(), QuerySet.extra(); and RawSQL expressions.
SQL_CALLS = {"cursor", "execute", "executemany", "raw", "extra"}
SQL_NAMES = {"RawSQL"}


def application_files() -> list[Path]:
    return sorted(
        path
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.relative_to(ROOT).parts
    )


def sql_uses(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SQL_CALLS
        ):
            found.append((node.lineno, f".{node.func.attr}()"))
        elif isinstance(node, ast.Name) and node.id in SQL_NAMES:
            found.append((node.lineno, node.id))
        elif isinstance(node, ast.Attribute) and node.attr in SQL_NAMES:
            found.append((node.lineno, node.attr))
        elif isinstance(node, ast.ImportFrom) and any(a.name in SQL_NAMES for a in node.names):
            found.append((node.lineno, "import RawSQL"))
    return found


def test_it_finds_application_code_to_check():
    files = application_files()

    assert any(path.name == "services.py" for path in files)
    assert not any("migrations" in path.parts for path in files)


@pytest.mark.parametrize(
    "source",
    [
        "with connection.cursor() as c:\n    pass",
        "c.execute('SELECT 1')",
        "Contact.objects.raw('SELECT * FROM contacts_contact')",
        "Contact.objects.extra(where=['1=1'])",
        "from django.db.models.expressions import RawSQL",
        "Contact.objects.annotate(x=expressions.RawSQL('1', []))",
    ],
)
def test_it_recognizes_each_way_of_sending_sql(source):
    assert sql_uses(source)


def test_it_finds_no_sql_strings_in_application_code():
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in application_files()
        for line, what in sql_uses(path.read_text())
    ]

    assert offenders == [], "SQL written by hand in application code:\n" + "\n".join(offenders)
