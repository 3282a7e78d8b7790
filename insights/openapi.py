"""The query API's OpenAPI parameters, described from the constants the code checks
against (analyses, intervals, timeframe units, time zones, moving-average kinds and
window), so the documentation cannot drift from the behaviour."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter

from movingavg.engines import KINDS

from .queries import ANALYSES, COMPOUND_ANALYSES, MAX_WINDOW, UNIQUE_TARGETS
from .timeframes import INTERVALS, MAX_BUCKETS, UNITS

ANALYSIS_DESCRIPTION = f"one of {', '.join((*ANALYSES, *COMPOUND_ANALYSES))}"
TIMEFRAME_DESCRIPTION = (
    "this_N_<units> (the current unit included) or previous_N_<units>, with units "
    f"{', '.join(UNITS)} (also today, yesterday, this_<unit>, previous_<unit>); or "
    "{start, end} in ISO-8601 with a UTC offset"
)
INTERVAL_DESCRIPTION = f"one of {', '.join(INTERVALS)}: a series of at most {MAX_BUCKETS} buckets"
TIMEZONE_DESCRIPTION = (
    "a named time zone (such as US/Pacific) or an offset in seconds (less than a day); "
    "days and longer units follow it; UTC when absent"
)
KIND_DESCRIPTION = f"moving average over the interval series: one of {', '.join(KINDS)}"
WINDOW_DESCRIPTION = f"1 to {MAX_WINDOW} buckets (the span for ema; none for cma)"

QUERY_PARAMETERS = [
    OpenApiParameter("analysis", str, OpenApiParameter.PATH, description=ANALYSIS_DESCRIPTION),
    OpenApiParameter("event_collection", str, required=True, description="the event name"),
    OpenApiParameter(
        "target_property",
        str,
        description=f"required except for count ({', '.join(UNIQUE_TARGETS)} for count_unique "
        "from the rollups)",
    ),
    OpenApiParameter("timeframe", str, required=True, description=TIMEFRAME_DESCRIPTION),
    OpenApiParameter("interval", str, description=INTERVAL_DESCRIPTION),
    OpenApiParameter("timezone", str, description=TIMEZONE_DESCRIPTION),
    OpenApiParameter("max_age", float, description="seconds a cached result may be old (0: fresh)"),
]
MOVING_AVERAGE_PARAMETERS = [
    OpenApiParameter("kind", str, description=KIND_DESCRIPTION),
    OpenApiParameter("window", int, description=WINDOW_DESCRIPTION),
]
