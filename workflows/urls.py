from django.urls import path
from rest_framework.routers import SimpleRouter

from workflows.api import InboundWebhookView, WorkflowViewSet

app_name = "workflows"

router = SimpleRouter()
router.register("api/workflows", WorkflowViewSet, basename="api-workflow")

urlpatterns = [
    # Under /hooks/ so that the logging filter redacts the secret (config/logging.py).
    path("hooks/<str:token>/", InboundWebhookView.as_view(), name="inbound-webhook"),
    *router.urls,
]
