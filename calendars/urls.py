from rest_framework.routers import SimpleRouter

from calendars.api import CalendarViewSet, ConnectionViewSet

router = SimpleRouter()
router.register("api/calendars", CalendarViewSet, basename="api-calendar")
router.register("api/connections", ConnectionViewSet, basename="api-connection")

urlpatterns = router.urls
