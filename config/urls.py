from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config import staff_home
from config.api import ping
from config.views import home

admin.site.site_header = "Onceslot"
admin.site.site_title = "Onceslot admin"
admin.site.index_title = "Home"
# "View site" leads to the product's small home page (config.views.home).
admin.site.site_url = "/"
# The index page shows the boxes the apps register (config/staff_home.py).
staff_home.install(admin.site)

urlpatterns = [
    path("", home, name="home"),
    # Browsers ask for /favicon.ico whatever the page says; the icon itself is static.
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/ping/", ping, name="ping"),
    path("", include("calendars.urls")),
    path("", include("bookings.urls")),
    path("", include("contacts.urls")),
    path("", include("workflows.urls")),
]

handler400 = "config.views.bad_request"
handler404 = "config.views.not_found"
handler500 = "config.views.server_error"
