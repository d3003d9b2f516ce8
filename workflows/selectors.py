import functools
import json
from contextvars import ContextVar

from django.db import connection
from django.db.models import Prefetch, QuerySet

from config import rows, tokens
from workflows.models import Enrollment, StepRun, TriggerType, Workflow


def workflow_list_for(*, user) -> QuerySet[Workflow]:
    """The workflows a staff user may see and edit: their own, or every one for a superuser."""
    qs = Workflow.objects.select_related("created_by").prefetch_related("actions")
    if getattr(user, "is_superuser", False):
        return qs
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    return qs.filter(created_by=user)


def workflow_manual_choices_for(*, user) -> QuerySet[Workflow]:
    return workflow_list_for(user=user).filter(
        status=Workflow.Status.PUBLISHED, trigger_type=TriggerType.MANUAL
    )


def workflow_get_by_webhook_token(*, token: str) -> Workflow | None:
    """The inbound-webhook workflow behind a secret URL, or None for any wrong token."""
    return tokens.lookup(
        Workflow.objects.filter(trigger_type=TriggerType.INBOUND_WEBHOOK),
        token,
        purpose=Workflow.WEBHOOK_TOKEN_PURPOSE,
        locator_field="webhook_locator",
        nonce_field="webhook_nonce",
    )


def enrollment_list(*, workflow: Workflow) -> QuerySet[Enrollment]:
    return (
        Enrollment.objects.filter(workflow=workflow)
        .select_related("contact")
        .prefetch_related(Prefetch("steps", queryset=StepRun.objects.order_by("position")))
    )


# ------------------------------------------------------------------ live trigger types


class _Memo:
    __slots__ = ("trigger_types",)

    def __init__(self) -> None:
        self.trigger_types: frozenset[str] | None = None


# Which trigger types have a published workflow: asked once per request or Celery task
# instead of once per signal (a booking by a new invitee sends two). Why the scope is safe:
# the memo is filled by the first question inside the unit of work (or by the read that
# rides along with a booking's INSERTs, published_trigger_types_rider), so it includes every
# workflow published before the unit began; one published by another request meanwhile is
# missed for the rest of this unit only, so the unit sees one snapshot of which triggers
# are live, exactly as if that workflow had been published a moment later. A workflow
# write inside the unit ends its memo (the services call the stop), so a publish followed
# by a booking in one request is seen, and so is an unpublish that is then rolled back.
# Outside any unit (shell, management commands, tests calling services) nothing is
# memoized, so nothing can go stale there. A ContextVar, not a module global: each
# gunicorn gthread worker thread (and each asyncio task) has its own, so threads never
# share a memo.
_memo: ContextVar[_Memo | None] = ContextVar("workflows_published_trigger_types", default=None)


def published_trigger_types() -> frozenset[str]:
    """The trigger types of published workflows: the question asked after every booking
    and new contact, usually answered "none of these"."""
    memo = _memo.get()
    if memo is None:
        return _published_trigger_types_query()
    if memo.trigger_types is None:
        memo.trigger_types = _published_trigger_types_query()
    return memo.trigger_types


def published_trigger_types_memo_start(**kwargs) -> None:
    """Receiver of request_started and task_prerun: a fresh, empty memo for this unit."""
    _memo.set(_Memo())


def published_trigger_types_memo_stop(**kwargs) -> None:
    """Receiver of request_finished and task_postrun, and called after a workflow write:
    no memo (every question queries) until the next unit of work starts. A Celery task
    run eagerly inside a request thus ends the request's memo early: safe, only slower."""
    _memo.set(None)


def published_trigger_types_rider() -> rows.Rider | None:
    """The memo's question, asked in a statement that is going to the database anyway (a
    booking's INSERTs, config.rows.together) when this unit of work has a memo still empty:
    the answer after commit then costs no query. The read is made inside the unit, which is
    all the memo promises (see above). Registered by the app's ready()."""
    memo = _memo.get()
    if memo is None or memo.trigger_types is not None:
        return None

    def answer(text: str | None) -> None:
        memo.trigger_types = frozenset(json.loads(text or "[]"))

    return rows.Rider(
        sql=f"({_published_trigger_types_sql(connection.vendor, as_json=True)})",
        params=[Workflow.Status.PUBLISHED.value],
        answer=answer,
    )


@functools.cache
def _published_trigger_types_sql(vendor: str, *, as_json: bool) -> str:
    """The distinct trigger types of published workflows: one row each, or (`as_json`,
    PostgreSQL) one JSON array for the rider. Plain SQL, built once (`vendor` only keys the
    cache: the quoting is the connection's): building the ORM query cost several times the
    query itself on this path."""
    meta = Workflow._meta
    quote = connection.ops.quote_name
    trigger_type = quote(meta.get_field("trigger_type").column)
    selected = f"json_agg(DISTINCT {trigger_type})::text" if as_json else f"DISTINCT {trigger_type}"
    return (
        f"SELECT {selected} FROM {quote(meta.db_table)}"  # noqa: S608 (names only)
        f" WHERE {quote(meta.get_field('status').column)} = %s"
    )


def _published_trigger_types_query() -> frozenset[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            _published_trigger_types_sql(connection.vendor, as_json=False),
            [Workflow.Status.PUBLISHED.value],
        )
        return frozenset(row[0] for row in cursor.fetchall())
