"""API endpoints. Each module defines its own urlpatterns, included by bookings/urls.py."""

urlpatterns: list = []
