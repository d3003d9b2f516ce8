from rest_framework.routers import SimpleRouter

from contacts.api import ContactViewSet

router = SimpleRouter()
router.register("api/contacts", ContactViewSet, basename="api-contact")

urlpatterns = router.urls
