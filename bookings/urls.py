from bookings.api import bookings as bookings_api
from bookings.api import links as links_api
from bookings.api import slots as slots_api
from bookings.views import feeds as feed_views
from bookings.views import links as link_views
from bookings.views import manage as manage_views
from bookings.views import pages as page_views

app_name = "bookings"

urlpatterns = [
    *page_views.urlpatterns,
    *manage_views.urlpatterns,
    *link_views.urlpatterns,
    *feed_views.urlpatterns,
    *slots_api.urlpatterns,
    *bookings_api.urlpatterns,
    *links_api.urlpatterns,
]
