"""Spark jobs: pure DataFrame transforms plus thin mains. No Django imports here."""
