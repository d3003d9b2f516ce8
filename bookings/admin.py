from bookings import admin_links  # noqa: F401  (one-time link admin and the Share panel)
