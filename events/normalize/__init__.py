"""Turn the raw payloads of the three front doors into the one internal ``Envelope``.

Each ``normalize_*`` returns an ``Envelope`` or raises ``EventValidationError`` listing
every problem of that event (``too_large`` when the size limit is the only one).
"""

from .category import infer_category, keen_sdk_category
from .keen import normalize_keen
from .native import normalize_native
from .segment import SEGMENT_CALL_TYPES, normalize_segment

__all__ = [
    "SEGMENT_CALL_TYPES",
    "infer_category",
    "keen_sdk_category",
    "normalize_keen",
    "normalize_native",
    "normalize_segment",
]
