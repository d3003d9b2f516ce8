"""`make bench`: throughput and latency of the served app against PostgreSQL, as a table."""
