"""Insights: Cassandra models for raw events and rollups, queries, Spark job triggering."""
