"""Spark job entry points."""
