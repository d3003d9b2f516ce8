"""The base of every endpoint for invitees.

Its own module: DRF's settings import config.api (parser, exception handler) while DRF is
still defining APIView, so a subclass of APIView cannot live there.
"""

from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from config.api import PublicRateThrottle


class PublicAPIView(APIView):
    """An endpoint for invitees: no login (so no session or CSRF work), the per-client rate."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [PublicRateThrottle]
