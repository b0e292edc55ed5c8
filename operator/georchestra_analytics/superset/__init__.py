"""Superset: REST client, bundle builder, sync."""
