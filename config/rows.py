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

Inserts also come as `*_deferred` functions, whose Deferred answers later: inside
`together()` on PostgreSQL they are not sent one by one but as one statement when the block
ends (WITH i0 AS (INSERT ...), i1 AS (INSERT ...) SELECT ...), so a booking and its outbox
rows cost one statement and one round trip under the calendar's lock instead of two. Other
apps may add a small read to that statement (`add_rider`): the workflows app answers "which
triggers are live?" there, a question every booking asks after commit.
"""

import functools
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

T = TypeVar("T")
U = TypeVar("U")


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


class Deferred(Generic[T]):
    """An answer read on demand: result() computes it once (raising its error, if any);
    then(fn) is a Deferred of fn(result)."""

    __slots__ = ("_done", "_read", "_value")

    def __init__(self, read: Callable[[], T]) -> None:
        self._read: Callable[[], T] | None = read
        self._done = False
        self._value: T | None = None

    @classmethod
    def of(cls, value: T) -> "Deferred[T]":
        """A Deferred that is already known (nothing to ask the database)."""
        return cls(lambda: value)

    def result(self) -> T:
        if not self._done:
            assert self._read is not None
            self._value = self._read()
            self._done, self._read = True, None
        return self._value  # type: ignore[return-value]

    def then(self, fn: Callable[[T], U]) -> "Deferred[U]":
        return Deferred(lambda: fn(self.result()))


_UNSENT = object()


@dataclass
class _Held:
    """A statement held back by together(), and its answer once sent: an INSERT's rows, or
    a read's (a scalar subquery's) value."""

    sql: str
    params: list
    is_read: bool = False
    answer: Any = _UNSENT


@dataclass(frozen=True)
class Rider:
    """A read added to the next together() statement: `sql` is a scalar subquery that gives
    text (SQL written by the app, never user input; values in `params`), and `answer`
    receives that text. It fails with the statement it rides on (a booking's), so it should
    be a small read of its own app's tables."""

    sql: str
    params: list
    answer: Callable[[str | None], None]


# Functions asked, each time a together() statement is sent, for a Rider or None (nothing to
# ask now). Registered once, by apps' ready(); the bookings code does not know them.
_rider_sources: list[Callable[[], Rider | None]] = []


def add_rider(source: Callable[[], Rider | None]) -> None:
    """Register `source` (once; registering it again changes nothing)."""
    if source not in _rider_sources:
        _rider_sources.append(source)


def remove_rider(source: Callable[[], Rider | None]) -> None:
    if source in _rider_sources:
        _rider_sources.remove(source)


# The statements held by the together() block this thread (or task) is in, if any.
_held: ContextVar[list[_Held] | None] = ContextVar("rows_held", default=None)


@contextmanager
def together() -> Iterator[None]:
    """Send the inserts and reads made by *_deferred functions inside the block as one
    statement when it ends (PostgreSQL); read each with its Deferred's result() after the
    block. One INSERT that fails fails the statement (an IntegrityError raised here), and
    none of them is written. INSERTs' RETURNING values travel as JSON: numbers and text
    (ids, keys), which is what these callers ask for; reads keep their type. All parts see
    the one snapshot the statement starts with, so a read does not see the block's own
    INSERTs. Elsewhere (SQLite has no INSERT inside WITH) each one is sent when it is made,
    so the same code works unchanged."""
    if _db().vendor != "postgresql":
        yield
        return
    held: list[_Held] = []
    token = _held.set(held)
    try:
        yield
    finally:
        _held.reset(token)
    _send_together(held)


def _send_together(held: list[_Held]) -> None:
    if not held:
        return
    riders = [rider for source in _rider_sources if (rider := source()) is not None]
    if len(held) == 1 and not riders:
        _send_alone(held[0])
        return
    inserts = [h for h in held if not h.is_read]
    reads = [h for h in held if h.is_read]
    sql = _together_sql(tuple(h.sql for h in inserts), tuple(h.sql for h in [*reads, *riders]))
    params = [value for h in [*inserts, *reads] for value in h.params]
    params += [value for rider in riders for value in rider.params]
    with _db().cursor() as cursor:
        cursor.execute(sql, params)
        answer = list(cursor.fetchone())
    for h in inserts:
        h.answer = [tuple(row.values()) for row in json.loads(answer.pop(0))]
    for h in reads:
        h.answer = answer.pop(0)
    for rider in riders:
        rider.answer(answer.pop(0))


@functools.lru_cache(maxsize=64)
def _together_sql(inserts: tuple[str, ...], reads: tuple[str, ...]) -> str:
    # Each INSERT's rows as JSON objects, whose keys keep the RETURNING order (json, not
    # jsonb); COALESCE: no row is "[]". The reads follow, then the riders', all in the
    # statement's one snapshot (taken when it starts: after any lock an earlier statement
    # of the transaction waited for). A handful of shapes, each built once.
    answers = [
        f"(SELECT COALESCE(json_agg(i{n})::text, '[]') FROM i{n})"  # noqa: S608 (no input)
        for n in range(len(inserts))
    ]
    answers += reads
    ctes = ", ".join(f"i{n} AS ({sql})" for n, sql in enumerate(inserts))
    return f"{f'WITH {ctes} ' if ctes else ''}SELECT {', '.join(answers)}"


def _send_alone(held: _Held) -> None:
    with _db().cursor() as cursor:
        if held.is_read:
            cursor.execute(f"SELECT {held.sql}", held.params)
            held.answer = cursor.fetchone()[0]
        else:
            cursor.execute(held.sql, held.params)
            held.answer = cursor.fetchall()


def _deferred(held: _Held) -> "Deferred[Any]":
    """Sent at once outside together(); inside, answered when the block ends."""
    batch = _held.get()
    if batch is None:
        _send_alone(held)
        return Deferred.of(held.answer)
    batch.append(held)

    def answer() -> Any:
        if held.answer is _UNSENT:
            raise RuntimeError("Read a deferred statement after its together() block has ended.")
        return held.answer

    return Deferred(answer)


def read_deferred(sql: str, params: Sequence[Any]) -> Deferred[Any]:
    """The value of `sql`, a scalar subquery ("(SELECT ...)", written by the caller, never
    user input; values in `params`): inside together() it travels in the block's statement,
    read in its snapshot (so after any lock an earlier statement of the transaction took)."""
    return _deferred(_Held(sql, list(params), is_read=True))


def _shape(
    root: type[Model],
    related: Sequence[str],
    where: str,
    suffix: str,
    prefix: str = "",
    extra: tuple[str, ...] = (),
):
    connection = _db()
    key = (root, tuple(related), where, suffix, prefix, extra, connection.vendor)
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
    columns = ", ".join([columns, *extra])
    sql = (
        f"{prefix} SELECT {columns} FROM {quote(root._meta.db_table)} t0"  # noqa: S608
        f" {' '.join(joins)} WHERE {where} {suffix}"
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
    instance, _ = fetch_one_with(root, related=related, where=where, params=params, suffix=suffix)
    return instance


def fetch_one_with(
    root: type[Model],
    *,
    related: Sequence[str] = (),
    where: str,
    params: Sequence[Any],
    suffix: str = "",
    prefix: str = "",
    extra: tuple[str, ...] = (),
) -> tuple[Model | None, tuple]:
    """fetch_one, with a `prefix` before the SELECT (a WITH clause whose statement runs in
    the same round trip) and the values of the `extra` column expressions after the
    instance; (None, ()) when no row matches. Caller's SQL only, as for fetch_one."""
    connection = _db()
    sql, parts = _shape(root, related, where, suffix, prefix, extra)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None, ()
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
    return instances[0], tuple(row[at:])


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
    return insert_many_deferred(
        model, instances, returning=returning, skip_conflicts=skip_conflicts
    ).result()


def insert_many_deferred(
    model: type[Model],
    instances: Sequence[Model],
    *,
    returning: Sequence[str] = ("id",),
    skip_conflicts: bool = False,
) -> Deferred[list[tuple]]:
    """insert_many, sent now or, inside together(), when that block ends."""
    if not instances:
        return Deferred.of([])
    connection = _db()
    sql, fields = _insert_sql(
        model, len(instances), returning=tuple(returning), skip_conflicts=skip_conflicts
    )
    params = [
        f.get_db_prep_save(f.pre_save(instance, True), connection)
        for instance in instances
        for f in fields
    ]
    return _deferred(_Held(sql, params))


def insert_one(instance: Model, *, skip_conflicts: bool = False) -> bool:
    """Save a new `instance` with one INSERT ... RETURNING its primary key, as save() would
    but without the ORM's query building or model signals. Returns False (and leaves the
    instance unsaved) when skip_conflicts skipped it; a broken constraint otherwise raises
    IntegrityError as save() does."""
    return insert_one_deferred(instance, skip_conflicts=skip_conflicts).result()


def insert_one_deferred(instance: Model, *, skip_conflicts: bool = False) -> Deferred[bool]:
    """insert_one, its key set by result() (inside together(): after the block)."""
    meta = instance._meta
    written = insert_many_deferred(
        type(instance), [instance], returning=(meta.pk.name,), skip_conflicts=skip_conflicts
    )

    def saved(rows: list[tuple]) -> bool:
        if not rows:
            return False
        instance.pk = rows[0][0]
        instance._state.adding = False
        instance._state.db = DEFAULT_DB_ALIAS
        return True

    return written.then(saved)
