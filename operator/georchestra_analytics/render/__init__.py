"""Rendering of the vector/, timescale/ and superset/ templates: one Jinja2 environment for all."""
