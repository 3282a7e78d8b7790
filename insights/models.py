"""Cassandra tables (django-cassandra-engine models), designed query-first, and the
relational ``JobRun`` record of every aggregation run.

``RawEvent`` keeps every accepted event once: a partition per project, event name
and UTC day, clustered by event time (``event_time``) then ``event_id`` (the idempotency key), so
rewriting the same event is an upsert and a time-range scan reads one partition
per day.
"""

from __future__ import annotations

import uuid

from cassandra.cqlengine import columns
from django.db import models
from django.utils import timezone
from django_cassandra_engine.models import DjangoCassandraModel

from spark.schema import Table


class RawEvent(DjangoCassandraModel):
    """One accepted event, as the Spark job stores it."""

    __table_name__ = Table.RAW_EVENTS.value

    project_id = columns.Text(partition_key=True)
    name = columns.Text(partition_key=True)
    day = columns.Date(partition_key=True)
    event_time = columns.DateTime(primary_key=True, clustering_order="ASC")
    event_id = columns.Text(primary_key=True, clustering_order="ASC")
    category = columns.Text()
    distinct_id = columns.Text()
    received_at = columns.DateTime()
    properties = columns.Text(default="{}")
    context = columns.Text(default="{}")
    numeric_properties = columns.Map(columns.Text, columns.Decimal)  # exact, any size
    source = columns.Text()
    batch_id = columns.BigInt()

    class Meta:
        get_pk_field = "event_id"


class Rollup(DjangoCassandraModel):
    """One bucket of one metric: see ``spark/rollups.py`` for what each column holds.

    A partition per (project, event name, metric, granularity, period) holds every
    bucket of that period in time order, so an interval query reads one or two
    partitions. ``metric`` is ``events`` (count, uniques) or ``property:<path>``
    (count, exact_sum, exact_min, exact_max); ``category`` is an event category or ``all``.

    ``exact_sum``, ``exact_min`` and ``exact_max`` are exact decimals as text, of any
    size and any number of digits (``spark/exact.py``). Cassandra cannot change a
    column's type, so they are new columns; rows written before them hold the legacy
    ``sum``, ``min`` and ``max`` decimals, which readers use when the exact ones are null.
    """

    __table_name__ = Table.ROLLUPS.value

    project_id = columns.Text(partition_key=True)
    name = columns.Text(partition_key=True)
    metric = columns.Text(partition_key=True)
    granularity = columns.Text(partition_key=True)
    period = columns.Text(partition_key=True)
    bucket = columns.DateTime(primary_key=True, clustering_order="ASC")
    category = columns.Text(primary_key=True, clustering_order="ASC")
    count = columns.BigInt()
    uniques = columns.BigInt()
    sum = columns.Decimal()  # legacy
    min = columns.Decimal()  # legacy
    max = columns.Decimal()  # legacy
    exact_sum = columns.Text()
    exact_min = columns.Text()
    exact_max = columns.Text()
    batch_id = columns.BigInt()

    class Meta:
        get_pk_field = "bucket"


class EventId(DjangoCassandraModel):
    """Every stored event by (project, event_id): how the job recognises a duplicate,
    even one whose timestamp differs (a client retry), with a point lookup."""

    __table_name__ = Table.EVENT_IDS.value

    project_id = columns.Text(partition_key=True)
    event_id = columns.Text(partition_key=True)
    name = columns.Text()
    day = columns.Date()
    batch_id = columns.BigInt()

    class Meta:
        get_pk_field = "event_id"


class BucketUser(DjangoCassandraModel):
    """A user seen in a rollup bucket: what keeps unique-user counts exact."""

    __table_name__ = Table.BUCKET_USERS.value

    project_id = columns.Text(partition_key=True)
    name = columns.Text(partition_key=True)
    granularity = columns.Text(partition_key=True)
    bucket = columns.DateTime(partition_key=True)
    category = columns.Text(partition_key=True)
    distinct_id = columns.Text(primary_key=True)
    batch_id = columns.BigInt()

    class Meta:
        get_pk_field = "distinct_id"


class UserEvent(DjangoCassandraModel):
    """A user's events by (project, distinct_id), each with its raw-event key: how a
    deletion finds a user's events without scanning the store. Written by the
    aggregation with the raw events (events without a distinct_id are not indexed)."""

    __table_name__ = Table.USER_EVENTS.value

    project_id = columns.Text(partition_key=True)
    distinct_id = columns.Text(partition_key=True)
    name = columns.Text(primary_key=True, clustering_order="ASC")
    day = columns.Date(primary_key=True, clustering_order="ASC")
    event_time = columns.DateTime(primary_key=True, clustering_order="ASC")
    event_id = columns.Text(primary_key=True, clustering_order="ASC")
    batch_id = columns.BigInt()

    class Meta:
        get_pk_field = "event_id"


class KafkaOffset(models.Model):
    """Where a job resumes reading one Kafka partition: the first offset not yet processed.

    Written in the same transaction that marks a run succeeded, so offsets are
    committed only when a run has written everything.
    """

    job = models.CharField(max_length=50)
    topic = models.CharField(max_length=255)
    partition = models.PositiveIntegerField()
    offset = models.PositiveBigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["job", "topic", "partition"], name="one_offset_per_partition"
            )
        ]

    def __str__(self) -> str:
        return f"{self.job} {self.topic}[{self.partition}] @ {self.offset}"


class JobFence(models.Model):
    """The fencing token of the latest run to take a job's lock (``insights.lease``).

    A run commits offsets only while this row still holds its own token, so a run
    that lost its lock (stalled past the TTL) can never commit over a newer run.
    """

    job = models.CharField(max_length=50, unique=True)
    token = models.PositiveBigIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.job} fenced at {self.token}"


class JobRun(models.Model):
    """One aggregation run, in the relational database (visible in the admin)."""

    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        ABANDONED = "abandoned"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule"
        MANUAL = "manual"
        REPLAY = "replay"
        RETRY = "retry", "retry of an unfinished batch"

    job = models.CharField(max_length=50, default="aggregate")
    batch_id = models.PositiveBigIntegerField(
        null=True, help_text="the id of the batch's first run; a retry reuses it"
    )
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    start_offsets = models.JSONField(default=dict, blank=True)
    end_offsets = models.JSONField(default=dict, blank=True)
    records_read = models.PositiveBigIntegerField(default=0)
    invalid = models.PositiveBigIntegerField(default=0, help_text="sent to the DLQ")
    duplicates = models.PositiveBigIntegerField(default=0, help_text="dropped by event_id")
    events_written = models.PositiveBigIntegerField(default=0)
    deleted = models.PositiveBigIntegerField(
        default=0, help_text="new events of users deleted while they were on their way"
    )
    rollup_rows = models.PositiveBigIntegerField(default=0)
    derived_rows = models.PositiveBigIntegerField(default=0, help_text="second stage")
    error = models.TextField(blank=True)
    offset_gaps = models.JSONField(
        default=list,
        blank=True,
        help_text="Kafka records deleted (retention) before this run could read them: "
        "[{topic, partition, first, last, count}]",
    )

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["job", "status", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.job} #{self.pk} {self.status}"

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class EventCollection(models.Model):
    """An event name (Keen's collection) a project has sent, as aggregation found it:
    every run records the names it aggregated, so listing them never scans events."""

    project_id = models.CharField(max_length=32)
    name = models.CharField(max_length=255)
    first_aggregated_at = models.DateTimeField(default=timezone.now)
    last_aggregated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["project_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project_id", "name"], name="one_collection_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.project_id})"


class ExtractionJob(models.Model):
    """An asynchronous Keen extraction (one asked with ``email``): run by a Celery task
    that writes the events, oldest first, as JSON Lines to ``EXTRACTIONS_DIR``."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project_id = models.CharField(max_length=32, db_index=True)
    params = models.JSONField(help_text="the extraction's Keen parameters, as asked")
    email = models.CharField(max_length=254, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    events = models.BigIntegerField(null=True, blank=True, help_text="events written")
    scanned = models.BigIntegerField(null=True, blank=True, help_text="rows read")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"extraction {self.id} ({self.status})"


class SavedQuery(models.Model):
    """A Keen saved query: a named query of a project (``query`` holds Keen's parameters
    and ``analysis_type``), with Keen's ``refresh_rate`` and ``metadata``.

    With ``refresh_rate`` > 0 it is a *cached query*: Celery beat recomputes it every
    ``refresh_rate`` seconds (its ``schedule``, a django-celery-beat task editable in
    the admin) into ``result``, which ``results`` serves with its age.
    """

    project = models.ForeignKey("events.Project", on_delete=models.CASCADE)
    name = models.CharField(max_length=255, help_text="Keen's query_name")
    query = models.JSONField(help_text="Keen's parameters, with analysis_type")
    refresh_rate = models.PositiveIntegerField(
        default=0, help_text="seconds between recomputations; 0: computed when asked"
    )
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    result = models.JSONField(null=True, blank=True, editable=False)
    result_at = models.DateTimeField(null=True, blank=True, editable=False)
    refresh_error = models.TextField(blank=True, editable=False)
    schedule = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        editable=False,
        related_name="saved_query",
    )

    class Meta:
        ordering = ["project_id", "name"]
        verbose_name_plural = "saved queries"
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="one_saved_query_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.project_id})"


class CachedDataset(models.Model):
    """A Keen cached dataset: ``query`` (with ``analysis_type`` and an ``interval``)
    precomputed for every value of ``index_by`` in every interval bucket of its
    timeframe (``DatasetBucket``), kept current as aggregation runs."""

    project = models.ForeignKey("events.Project", on_delete=models.CASCADE)
    name = models.CharField(max_length=255, help_text="Keen's dataset_name")
    display_name = models.CharField(max_length=255, blank=True)
    query = models.JSONField(help_text="Keen's parameters, with analysis_type and interval")
    index_by = models.JSONField(help_text="the property names results are indexed by")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["project_id", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="one_dataset_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.project_id})"


class DatasetBucket(models.Model):
    """One interval bucket of a cached dataset: the value of each ``index_by`` value
    (``values``: the JSON list of index values -> the analysis' result)."""

    dataset = models.ForeignKey(CachedDataset, on_delete=models.CASCADE, related_name="buckets")
    start = models.DateTimeField()
    end = models.DateTimeField()
    values = models.JSONField(default=dict)
    events_seen = models.BigIntegerField(
        default=0, help_text="the bucket's event count when computed: a change means new events"
    )
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["dataset_id", "start"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "start"], name="one_dataset_bucket")
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id} from {self.start.isoformat()}"


class Deletion(models.Model):
    """A request to delete events, and its audit record: who asked, when, what, and what
    was removed. Run by the aggregation worker under the aggregation lease
    (``insights.deletions``), so it never interleaves with an aggregation run.

    ``kind`` ``users``: every event of ``distinct_ids`` (optionally only ``name``, and
    only in [``start``, ``end``)), including those still on their way when it was
    asked (received by then). ``events``: the events of collection ``name`` in
    [``start``, ``end``) matching Keen ``filters``, as stored when it runs.
    """

    class Kind(models.TextChoices):
        USERS = "users"
        EVENTS = "events"

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.BigAutoField(primary_key=True)
    project = models.ForeignKey("events.Project", on_delete=models.CASCADE)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    distinct_ids = models.JSONField(default=list, blank=True)
    name = models.CharField(max_length=255, blank=True, help_text="the event name; blank: all")
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    filters = models.JSONField(default=list, blank=True, help_text="Keen filters (events kind)")
    suppress = models.BooleanField(
        default=False,
        help_text="users kind: also drop every later event of these users (suppression)",
    )
    requested_by = models.CharField(max_length=255, help_text="the key or admin user that asked")
    requested_at = models.DateTimeField(default=timezone.now, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    events_deleted = models.BigIntegerField(default=0)
    rollup_rows = models.BigIntegerField(default=0, help_text="rollup rows corrected")
    rollup_rows_removed = models.BigIntegerField(default=0, help_text="rollup rows emptied")
    bucket_users_removed = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"deletion {self.pk} ({self.kind}, {self.status})"

    @property
    def batch_id(self) -> int:
        """The write stamp of this deletion: minus its id, so never an aggregation batch's."""
        return -self.pk


class DeletionPartition(models.Model):
    """One raw-events partition (event ``name``, UTC ``day``) of a deletion: what deleting
    there amounted to, recorded before its first write, so an interrupted deletion's
    redo keeps the full counts and skips the partitions marked ``done``.
    ``day_partitions`` and ``month_keys`` are the monthly rollups to derive again."""

    deletion = models.ForeignKey(Deletion, on_delete=models.CASCADE, related_name="partitions")
    name = models.CharField(max_length=255)
    day = models.DateField()
    events = models.BigIntegerField()
    rollup_rows = models.BigIntegerField()
    rollup_rows_removed = models.BigIntegerField()
    bucket_users_removed = models.BigIntegerField()
    day_partitions = models.JSONField(default=list)
    month_keys = models.JSONField(default=list)
    done = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["deletion", "name", "day"], name="one_deletion_partition"
            )
        ]

    def __str__(self) -> str:
        return f"{self.deletion_id}: {self.name} on {self.day}"


class ExportJob(models.Model):
    """An export of a project's raw events (optionally one event ``name``, in [``start``,
    ``end``)) as Parquet or JSON Lines files under ``destination``, written by Spark one
    chunk of raw-event partitions at a time (``insights.exports``): ``chunks_done`` of
    ``chunks`` is its progress, and an interrupted export resumes at the first chunk
    not done."""

    class Format(models.TextChoices):
        PARQUET = "parquet"
        JSONL = "jsonl", "JSON Lines"

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey("events.Project", on_delete=models.CASCADE)
    file_format = models.CharField(max_length=16, choices=Format.choices)
    name = models.CharField(max_length=255, blank=True, help_text="the event name; blank: all")
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    destination = models.CharField(max_length=1024, help_text="a directory or a Hadoop URL")
    requested_by = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    plan = models.JSONField(default=list, blank=True, help_text="the chunks: lists of [name, day]")
    chunks_done = models.JSONField(default=dict, blank=True, help_text="chunk -> events written")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"export {self.id} ({self.status})"

    @property
    def chunks(self) -> int:
        return len(self.plan)

    @property
    def events(self) -> int:
        return sum(self.chunks_done.values())
