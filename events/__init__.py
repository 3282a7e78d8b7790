"""Ingestion: projects and API keys (more arrives with the ingestion issue)."""
