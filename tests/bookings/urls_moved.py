"""A URLconf that serves the booking pages under /moved/ (test_booking_links)."""

from django.urls import include, path

urlpatterns = [path("moved/", include("bookings.urls"))]
