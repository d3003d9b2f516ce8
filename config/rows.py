"""Hot-path rows in one plain statement: select_related and INSERT without the query builder.

The booking endpoints read a calendar with its owner (under the calendar's lock) and a
one-time link with its calendar, owner and contact on every request, and insert a contact,
a booking and its outbox rows. Building those statements with the ORM cost several times
running them (about 0.5-0.9 ms of CPU against 0.1 for the joins), so they are written here
from the models' own metadata: the SQL is made once per shape and kept, values go through
the fields' own pre_save and get_db_prep_save, and rows become model instances the way the
ORM makes them (database converters, Model.from_db, related instances cached on their
foreign keys, None for an empty LEFT JOIN). Only these fixed shapes use it; everything else
stays with the ORM.

What an insert here skips, on purpose: the pre_save/post_save signals (no receiver listens
to these models; tests/test_rows.py fails if one ever does) and validation, which the
callers run first (full_clean).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model


@dataclass(frozen=True)
class _Part:
    model: type[Model]
    alias: str
    attnames: tuple[str, ...]
    columns: tuple[Any, ...]  # Col expressions, as the converters expect
    converters: tuple[tuple, ...]  # per column: the converters Django would apply
    parent: int | None  # index of the part holding the foreign key
    field: Any  # that foreign key


def _db():
    """This thread's default connection itself. django.db.connection is a proxy that finds
    it again (through asgiref's Local) on every attribute, and a row's fields ask for it
    dozens of times."""
    return connections[DEFAULT_DB_ALIAS]


_shapes: dict[tuple, tuple[str, tuple[_Part, ...]]] = {}
_inserts: dict[tuple, tuple[str, list]] = {}


def _shape(root: type[Model], related: Sequence[str], where: str, suffix: str):
    connection = _db()
    key = (root, tuple(related), where, suffix, connection.vendor)
    shape = _shapes.get(key)
    if shape is not None:
        return shape
    quote = connection.ops.quote_name
    parts: list[_Part] = []
    joins: list[str] = []
    by_path: dict[str, int] = {"": 0}

    def add(model, alias, parent, field) -> None:
        fields = model._meta.concrete_fields
        columns = tuple(f.get_col(alias) for f in fields)
        converters = tuple(
            tuple(connection.ops.get_db_converters(col) + col.get_db_converters(connection))
            for col in columns
        )
        attnames = tuple(f.attname for f in fields)
        parts.append(_Part(model, alias, attnames, columns, converters, parent, field))

    add(root, "t0", None, None)
    for path in related:
        parent_path, _, name = path.rpartition("__")
        parent = by_path[parent_path]
        field = parts[parent].model._meta.get_field(name)
        alias = f"t{len(parts)}"
        target = field.related_model
        join = "LEFT JOIN" if field.null else "INNER JOIN"
        joins.append(
            f"{join} {quote(target._meta.db_table)} {alias}"
            f" ON {alias}.{quote(field.target_field.column)}"
            f" = {parts[parent].alias}.{quote(field.column)}"
        )
        by_path[path] = len(parts)
        add(target, alias, parent, field)
    columns = ", ".join(
        f"{part.alias}.{quote(f.column)}"
        for part in parts
        for f in part.model._meta.concrete_fields
    )
    sql = (
        f"SELECT {columns} FROM {quote(root._meta.db_table)} t0 {' '.join(joins)}"  # noqa: S608
        f" WHERE {where} {suffix}"
    )
    shape = (sql, tuple(parts))
    _shapes[key] = shape
    return shape


def fetch_one(
    root: type[Model],
    *,
    related: Sequence[str] = (),
    where: str,
    params: Sequence[Any],
    suffix: str = "",
) -> Model | None:
    """The first row of `root` (table alias t0) matching `where`, with the foreign keys in
    `related` ("owner", "calendar__owner": each joined as t1, t2, ... in that order)
    loaded and cached, as select_related would. `where` and `suffix` (e.g. "FOR UPDATE OF
    t0") are SQL written by the caller, never user input; values go in `params`."""
    connection = _db()
    sql, parts = _shape(root, related, where, suffix)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    instances: list[Model | None] = []
    at = 0
    for part in parts:
        width = len(part.attnames)
        values = list(row[at : at + width])
        at += width
        for i, converters in enumerate(part.converters):
            for converter in converters:
                values[i] = converter(values[i], part.columns[i], connection)
        pk_index = part.attnames.index(part.model._meta.pk.attname)
        instance = (
            None
            if values[pk_index] is None
            else part.model.from_db(connection.alias, part.attnames, values)
        )
        instances.append(instance)
        if part.parent is not None and instances[part.parent] is not None:
            part.field.set_cached_value(instances[part.parent], instance)
    return instances[0]


def _insert_sql(
    model: type[Model], rows: int, *, returning: tuple[str, ...], skip_conflicts: bool
) -> tuple[str, list]:
    connection = _db()
    key = (model, rows, returning, skip_conflicts, connection.vendor)
    shape = _inserts.get(key)
    if shape is not None:
        return shape
    meta = model._meta
    quote = connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    row = f"({', '.join(['%s'] * len(fields))})"
    columns = ", ".join(quote(f.column) for f in fields)
    returned = ", ".join(quote(meta.get_field(name).column) for name in returning)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns})"  # noqa: S608 (names only)
        f" VALUES {', '.join([row] * rows)}"
        f"{' ON CONFLICT DO NOTHING' if skip_conflicts else ''}"
        f" RETURNING {returned}"
    )
    shape = (sql, fields)
    _inserts[key] = shape
    return shape


def insert_many(
    model: type[Model],
    instances: Sequence[Model],
    *,
    returning: Sequence[str] = ("id",),
    skip_conflicts: bool = False,
) -> list[tuple]:
    """INSERT unsaved `instances` of `model` in one statement and return the `returning`
    columns (field names) of the rows it wrote, in the database's order. With
    skip_conflicts, ON CONFLICT DO NOTHING: a row that would break a unique constraint is
    skipped (a concurrent insert of the same key waits for the other transaction, then
    skips), so the caller's transaction is never aborted by a duplicate. PostgreSQL and
    SQLite (3.35+) both speak this. The instances are left as they were (no pk set)."""
    if not instances:
        return []
    connection = _db()
    sql, fields = _insert_sql(
        model, len(instances), returning=tuple(returning), skip_conflicts=skip_conflicts
    )
    params = [
        f.get_db_prep_save(f.pre_save(instance, True), connection)
        for instance in instances
        for f in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def insert_one(instance: Model, *, skip_conflicts: bool = False) -> bool:
    """Save a new `instance` with one INSERT ... RETURNING its primary key, as save() would
    but without the ORM's query building or model signals. Returns False (and leaves the
    instance unsaved) when skip_conflicts skipped it; a broken constraint otherwise raises
    IntegrityError as save() does."""
    meta = instance._meta
    written = insert_many(
        type(instance), [instance], returning=(meta.pk.name,), skip_conflicts=skip_conflicts
    )
    if not written:
        return False
    instance.pk = written[0][0]
    instance._state.adding = False
    instance._state.db = DEFAULT_DB_ALIAS
    return True
