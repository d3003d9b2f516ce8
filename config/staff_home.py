"""The admin's index page ("staff home"): boxes each app adds for the signed-in user.

An app registers a function `(request) -> Panel | None` (None: nothing to show, e.g. a
model it reads does not exist); config knows no app, the apps know this registry. Panels
are drawn in `order`, above Django's list of models.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.http import HttpRequest


@dataclass
class Panel:
    order: int
    title: str
    template: str  # drawn with the panel's `context` plus the request's
    context: dict = field(default_factory=dict)
    empty: str = ""  # shown when `context["rows"]` is empty


_providers: list[Callable[[HttpRequest], Panel | None]] = []


def register(provider: Callable[[HttpRequest], Panel | None]):
    if provider not in _providers:
        _providers.append(provider)
    return provider


def staff_home_panels(request: HttpRequest) -> list[Panel]:
    panels = [panel for provider in _providers if (panel := provider(request)) is not None]
    return sorted(panels, key=lambda panel: panel.order)


def install(site) -> None:
    """Give `site`'s index page the panels (its template: templates/admin/index.html)."""
    index = site.index

    def index_with_panels(request: HttpRequest, extra_context=None):
        context = {"home_panels": staff_home_panels(request), **(extra_context or {})}
        return index(request, extra_context=context)

    site.index = index_with_panels
