"""One-time link admin and the calendar Share panel. Owner: one-time links helper."""
