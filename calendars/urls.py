from rest_framework.routers import SimpleRouter

from calendars.api import CalendarViewSet

router = SimpleRouter()
router.register("api/calendars", CalendarViewSet, basename="api-calendar")

urlpatterns = router.urls
