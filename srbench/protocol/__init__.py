"""Protocols as validated data, and the per-image pipeline, the only reader of their settings."""
