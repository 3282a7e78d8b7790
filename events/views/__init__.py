"""HTTP front doors for ingestion: native, Segment-compatible and Keen-compatible."""
