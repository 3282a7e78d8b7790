"""Admin pages: metric definitions and the metric browser (a chart with the moving
average, the table of numbers and its CSV download, rendered on the server from the
query API)."""

from __future__ import annotations

import csv
import datetime as dt
import json

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from events.models import Project
from insights.collections import collection_names
from insights.errors import QueryError
from insights.explorer import latest_events
from insights.models import Rollup
from insights.selectors import query_answer
from insights.timeframes import parse_timezone
from spark.schema import EVENTS_METRIC, PROPERTY_PREFIX, Granularity

from .charts import series_chart
from .dashboard import pipeline_state, summed_counts, top_events
from .formatting import bucket_label, format_number
from .models import MetricDefinition

DEFAULT_TIMEFRAMES = {
    "hourly": "previous_48_hours",
    "daily": "previous_30_days",
    "monthly": "previous_12_months",
}


class RollupsForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.all())
    event_collection = forms.CharField(label="event")
    metric = forms.CharField(
        initial=EVENTS_METRIC, help_text=f"{EVENTS_METRIC}, or {PROPERTY_PREFIX}<path>"
    )
    granularity = forms.ChoiceField(choices=[(g.value, g.value) for g in Granularity])
    period = forms.CharField(help_text="2026-11 for hours; 2026 for days and months")


class DashboardForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.all())
    timezone = forms.CharField(
        required=False, initial="UTC", help_text="an IANA zone (Europe/Paris) or an offset"
    )


class ExplorerForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.all())
    event_collection = forms.CharField(label="event")
    distinct_id = forms.CharField(required=False)
    start = forms.DateTimeField(required=False, help_text="default: 7 days before the end")
    end = forms.DateTimeField(required=False, help_text="default: now")
    timezone = forms.CharField(required=False, initial="UTC")
    limit = forms.IntegerField(initial=50, min_value=1, max_value=500)


class BrowseForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.all())
    event_collection = forms.CharField(label="event")
    analysis = forms.ChoiceField(choices=MetricDefinition.Analysis.choices)
    target_property = forms.CharField(required=False)
    timeframe = forms.CharField(initial="previous_30_days")
    interval = forms.ChoiceField(choices=MetricDefinition.Interval.choices, initial="daily")
    kind = forms.ChoiceField(choices=MetricDefinition.Kind.choices)
    window = forms.IntegerField(required=False, min_value=1, initial=7)
    timezone = forms.CharField(
        required=False, initial="UTC", help_text="an IANA zone (Europe/Paris) or an offset"
    )


admin.site.index_template = "admin/movingavg/index.html"


@admin.register(MetricDefinition)
class MetricDefinitionAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "project",
        "event_collection",
        "analysis",
        "interval",
        "kind",
        "window",
        "chart",
    )
    list_filter = ("project", "analysis", "interval", "kind")
    search_fields = ("name", "event_collection")

    @admin.display(description="chart")
    def chart(self, obj: MetricDefinition) -> str:
        return format_html('<a href="{}">open</a>', browse_url(obj))

    def get_urls(self) -> list[URLPattern]:
        browse = path("browse/", self.admin_site.admin_view(self.browse), name="movingavg_browse")
        rollups = path(
            "rollups/", self.admin_site.admin_view(self.rollups), name="movingavg_rollups"
        )
        dashboard = path(
            "dashboard/", self.admin_site.admin_view(self.dashboard), name="movingavg_dashboard"
        )
        explorer = path(
            "events/", self.admin_site.admin_view(self.explorer), name="movingavg_events"
        )
        return [browse, rollups, dashboard, explorer, *super().get_urls()]

    def explorer(self, request: HttpRequest) -> TemplateResponse:
        """The event explorer: the newest raw events of one event name, with their
        properties, filtered by ``distinct_id`` and time (start and end in the zone)."""
        form = ExplorerForm(request.GET or None)
        context = self._context(request, form, "Event explorer")
        if form.is_valid():
            data = form.cleaned_data
            try:
                zone = parse_timezone(data["timezone"] or "UTC")
            except QueryError as exc:
                form.add_error("timezone", exc.message)
                return TemplateResponse(request, "admin/movingavg/events.html", context)
            end = _aware(data["end"], zone) or timezone.now()
            start = _aware(data["start"], zone) or end - dt.timedelta(days=7)
            found = latest_events(
                project_id=data["project"].id,
                name=data["event_collection"],
                start=start,
                end=end,
                distinct_id=data["distinct_id"] or None,
                limit=data["limit"],
            )
            context |= {
                "found": found,
                "rows": [
                    {
                        "time": dt.datetime.fromisoformat(
                            e["keen"]["timestamp"].replace("Z", "+00:00")
                        )
                        .astimezone(zone)
                        .strftime("%Y-%m-%d %H:%M:%S"),
                        "event": e,
                        "properties": json.dumps(
                            {
                                k: v
                                for k, v in e.items()
                                if k not in ("keen", "distinct_id", "category")
                            },
                            indent=1,
                            sort_keys=True,
                        ),
                    }
                    for e in found.events
                ],
                "start": start,
                "end": end,
            }
        return TemplateResponse(request, "admin/movingavg/events.html", context)

    def dashboard(self, request: HttpRequest) -> TemplateResponse:
        """The landing dashboard of one project in one time zone: its events over 24 hours
        and 30 days, the top events with unique users, the pipeline's state and a card per
        metric definition."""
        first = Project.objects.first()
        defaults = {"project": first.pk, "timezone": "UTC"} if first else None
        form = DashboardForm(request.GET or defaults)
        context = self._context(request, form, "Analytics dashboard")
        if not form.is_valid():
            return TemplateResponse(request, "admin/movingavg/dashboard.html", context)
        project, zone = form.cleaned_data["project"], form.cleaned_data["timezone"] or "UTC"
        names = collection_names(project.id)
        try:
            hours = summed_counts(
                project.id, names, timeframe="this_24_hours", interval="hourly", zone=zone
            )
            days = summed_counts(
                project.id, names, timeframe="this_30_days", interval="daily", zone=zone
            )
            top = top_events(project.id, names, timeframe="this_30_days", zone=zone)
            cards = [
                (metric, metric_series(metric, zone), browse_url(metric, zone))
                for metric in MetricDefinition.objects.filter(project=project)
            ]
        except QueryError as exc:
            form.add_error(None, f"{exc.field}: {exc.message}")
            return TemplateResponse(request, "admin/movingavg/dashboard.html", context)
        context |= {
            "project": project,
            "zone": zone,
            "events_24h": sum(p["value"] for p in hours),
            "events_30d": sum(p["value"] for p in days),
            "chart_24h": series_chart(hours),
            "chart_30d": series_chart(days),
            "top_events": [
                {
                    "row": row,
                    "link": _browse_link(project.id, row.name, zone),
                    "events": reverse("admin:movingavg_events")
                    + "?"
                    + urlencode(
                        {"project": project.id, "event_collection": row.name, "timezone": zone}
                    ),
                }
                for row in top
            ],
            "events_link": _browse_link(project.id, top[0].name, zone) if top else "",
            "pipeline": pipeline_state(),
            "cards": [
                {
                    "metric": metric,
                    "chart": series_chart(series, average_name=metric.kind.upper()),
                    "url": url,
                    "id": f"metric-{metric.pk}",
                    "data_id": f"metric-{metric.pk}-data",
                }
                for metric, series, url in cards
            ],
        }
        return TemplateResponse(request, "admin/movingavg/dashboard.html", context)

    def rollups(self, request: HttpRequest) -> TemplateResponse:
        """The stored rollup rows of one partition (the ``Rollup`` Cassandra model)."""
        form = RollupsForm(request.GET or None)
        context = self._context(request, form, "Rollup rows")
        if form.is_valid():
            data = form.cleaned_data
            rows = Rollup.objects.filter(
                project_id=data["project"].id,
                name=data["event_collection"],
                metric=data["metric"],
                granularity=data["granularity"],
                period=data["period"],
            )
            context["rows"] = list(rows.limit(5000))
        return TemplateResponse(request, "admin/movingavg/rollups.html", context)

    def browse(self, request: HttpRequest) -> HttpResponse:
        """The metric browser: pick a project and an event; see the series and its average
        in the chosen time zone (cached as the API is: an answer of the current data);
        ``format=csv`` downloads the same numbers, unformatted."""
        form = BrowseForm(request.GET or None)
        context = self._context(request, form, "Metric browser")
        if form.is_valid():
            data = form.cleaned_data
            params = {k: v for k, v in data.items() if k != "project" and v not in (None, "")}
            if data["analysis"] == "count_unique":
                params["target_property"] = "distinct_id"
            if data["kind"] == "cma":
                params.pop("window", None)
            try:
                series = query_answer(
                    project_id=data["project"].id,
                    analysis=data["analysis"],
                    params=params,
                    max_age=None,
                )
            except QueryError as exc:
                form.add_error(None, f"{exc.field}: {exc.message}")
            else:
                if not isinstance(series, list):  # the form requires an interval: a series
                    raise TypeError(f"expected a series of points, got {type(series).__name__}")
                if request.GET.get("format") == "csv":
                    return series_csv(series, filename=f"{data['event_collection']}.csv")
                context |= {
                    "rows": table_rows(series),
                    "chart": series_chart(series, average_name=f"{data['kind'].upper()}"),
                    "zone": data["timezone"] or "UTC",
                }
        return TemplateResponse(request, "admin/movingavg/browse.html", context)

    def _context(self, request: HttpRequest, form: forms.Form, title: str) -> dict:
        return {
            **self.admin_site.each_context(request),
            "form": form,
            "title": title,
            "opts": self.model._meta,
        }


def table_rows(series: list[dict]) -> list[dict]:
    """The series' points for the table: local bucket labels, raw and formatted numbers."""
    return [
        {
            "start": point["timeframe"]["start"],
            "label": bucket_label(point["timeframe"]["start"]),
            "value": point["value"],
            "value_text": format_number(point["value"]),
            "average": point.get("moving_average"),
            "average_text": format_number(point.get("moving_average")),
        }
        for point in series
    ]


def series_csv(series: list[dict], *, filename: str) -> HttpResponse:
    """The series as a CSV attachment: bucket start and end (ISO, in the query's zone),
    value and moving average as the API gives them."""
    response = HttpResponse(
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
    writer = csv.writer(response)
    writer.writerow(["bucket_start", "bucket_end", "value", "moving_average"])
    for point in series:
        average = point.get("moving_average")
        writer.writerow(
            [
                point["timeframe"]["start"],
                point["timeframe"]["end"],
                point["value"],
                "" if average is None else average,
            ]
        )
    return response


def browse_url(metric: MetricDefinition, zone: str = "UTC") -> str:
    """The metric browser showing ``metric`` over its default timeframe."""
    params = {
        "project": metric.project_id,
        "analysis": metric.analysis,
        "timeframe": DEFAULT_TIMEFRAMES[metric.interval],
        "timezone": zone,
        **metric.query_params(),
    }
    return reverse("admin:movingavg_browse") + "?" + urlencode(params)


def _browse_link(project_id: str, name: str, zone: str) -> str:
    """The metric browser: ``name``'s daily count over 30 days with a 7-day SMA."""
    params: dict[str, str | int] = {
        "project": project_id,
        "event_collection": name,
        "analysis": "count",
        "timeframe": "this_30_days",
        "interval": "daily",
        "kind": "sma",
        "window": 7,
        "timezone": zone,
    }
    return reverse("admin:movingavg_browse") + "?" + urlencode(params)


def metric_series(metric: MetricDefinition, zone: str) -> list[dict]:
    """``metric``'s series with its moving average, from the query API's selector."""
    series = query_answer(
        project_id=metric.project_id,
        analysis=metric.analysis,
        params={
            "timeframe": DEFAULT_TIMEFRAMES[metric.interval],
            "timezone": zone,
            **metric.query_params(),
        },
        max_age=None,
    )
    if not isinstance(series, list):
        raise TypeError(f"expected a series of points, got {type(series).__name__}")
    return series


def _aware(value: dt.datetime | None, zone: dt.tzinfo) -> dt.datetime | None:
    """A form's datetime read as wall-clock time in ``zone``."""
    if value is None:
        return None
    return value.replace(tzinfo=None).replace(tzinfo=zone)
