"""Celery tasks of the ingestion path: drain the ingestion streams into Kafka."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import suppress

from celery import Task, shared_task
from django.conf import settings
from kafka.errors import KafkaError
from redis.exceptions import RedisError

from . import property_types, stream
from .forwarding import dead_record, forward_encoded, send_dead_letters
from .kafka_producer import reset_producer

log = logging.getLogger(__name__)


UNREACHABLE = (KafkaError, OSError, RedisError)  # retried until they are reachable again


def _forward(key: str) -> Callable[[list[stream.Entry]], None]:
    """Forward a batch of entries; after ``FORWARD_MAX_UNEXPECTED_FAILURES`` unexpected
    failures of the same batch, only the entries that fail on their own go to the DLQ
    with the error (:func:`_forward_isolating`): the rest reach their topics."""

    def forward(entries: list[stream.Entry]) -> None:
        try:
            forward_encoded(entries)
        except UNREACHABLE:
            raise
        except Exception:
            failures = _count_failure(key, entries[0].id)
            if failures < settings.FORWARD_MAX_UNEXPECTED_FAILURES:
                raise
            send_dead_letters(_forward_isolating(entries, f"forwarding failed {failures} times"))
        _record_property_types(entries)

    return forward


def _record_property_types(entries: list[stream.Entry]) -> None:
    """Keep the collections' schemas current (``property_types``); the events are in
    Kafka already, so a failure here is logged, never retried into duplicates."""
    try:
        property_types.record_encoded(entry.value for entry in entries)
    except Exception:
        log.exception("recording the property types of %d forwarded events failed", len(entries))


def _forward_isolating(entries: list[stream.Entry], why: str) -> list[tuple[object, str]]:
    """Forward ``entries`` in halves, and halves of the halves that fail, down to single
    entries; the (record, reason) dead letters of the entries that fail alone. About
    log2(n) rounds per failing entry. An unreachable Kafka or Redis still raises."""
    try:
        forward_encoded(entries)
        return []
    except UNREACHABLE:
        raise
    except Exception as exc:
        if len(entries) == 1:
            return [(dead_record(entries[0].value), f"{why}: {type(exc).__name__}: {exc}")]
    middle = len(entries) // 2
    return _forward_isolating(entries[:middle], why) + _forward_isolating(entries[middle:], why)


def _count_failure(key: str, first_id: bytes) -> int:
    """Count one more unexpected failure of the batch starting at ``first_id``."""
    counter = f"{key}:failures:{first_id.decode()}"
    pipe = stream.client().pipeline()
    pipe.incr(counter)
    pipe.expire(counter, 86_400)
    count, _ = pipe.execute()
    return int(count)


@shared_task(
    bind=True,
    name="events.drain_stream",
    max_retries=None,
    ignore_result=True,
    soft_time_limit=240,
    time_limit=300,
)
def drain_stream(self: Task, key: str) -> int:
    """Forward the ingestion stream ``key`` to Kafka until it is empty; the count.

    Runs for at most ``EVENTS_DRAIN_BUDGET_SECONDS``, then schedules itself again while
    entries remain (after the claim time when they are pending with another consumer).
    Kafka or Redis unreachable: retried with a backoff growing to 30 s (the entries
    stay pending for this consumer meanwhile). Another unexpected
    failure is retried ``FORWARD_MAX_UNEXPECTED_FAILURES`` times; then that batch goes
    to the DLQ with the error. A lost message or a killed worker is covered by the
    next drain and by :func:`drain_overdue_streams`.
    """
    queue = (self.request.delivery_info or {}).get("routing_key") or None
    try:
        forwarded, again_in = stream.drain(
            key,
            forward=_forward(key),
            consumer=stream.consumer_name(),
            budget_seconds=settings.EVENTS_DRAIN_BUDGET_SECONDS,
        )
    except Exception as exc:
        if isinstance(exc, UNREACHABLE):
            reset_producer()
        countdown = min(30, 2 ** min(self.request.retries, 5))
        # This drain will be back: no request or safety net needs to start another.
        with suppress(RedisError, OSError):
            stream.keep_scheduled(key, seconds=countdown + settings.EVENTS_DRAIN_FLAG_SECONDS)
        raise self.retry(exc=exc, countdown=countdown) from exc
    if again_in is not None:
        # celery-types gap: queue and countdown accept None (default route, no delay).
        drain_stream.apply_async(args=(key,), queue=queue, countdown=again_in or None)  # type: ignore[arg-type]
    return forwarded


@shared_task(name="events.drain_overdue_streams", ignore_result=True)
def drain_overdue_streams(*, force: bool = False) -> list[str]:
    """The beat safety net: schedule a drain of every stream whose oldest entry is older
    than ``EVENTS_DRAIN_SAFETY_SECONDS`` and whose drain flag is unset (its trigger was
    lost, or its drain died and the flag expired). ``force``: every stream holding
    entries, flag or not. Returns the streams it scheduled.

    It also forgets the consumers idle past ``EVENTS_STREAM_CONSUMER_IDLE_SECONDS``
    that hold nothing (worker processes that exited)."""
    older_than = 0 if force else settings.EVENTS_DRAIN_SAFETY_SECONDS
    idle = settings.EVENTS_STREAM_CONSUMER_IDLE_SECONDS
    for key in stream.stream_keys():
        for name in stream.forget_idle_consumers(key, idle_seconds=idle):
            log.info("forgot consumer %s of %s (idle, holding nothing)", name, key)
    scheduled = []
    for key in stream.overdue(older_than=older_than):
        if not stream.claim_schedule(key) and not force:
            continue  # a drain is scheduled or running
        log.warning("ingestion stream %s has waiting entries: scheduling a drain", key)
        drain_stream.apply_async(args=(key,), queue=settings.CELERY_TASK_DEFAULT_QUEUE)
        scheduled.append(key)
    return scheduled


def drain_on_worker_ready(sender: object = None, **_kwargs: object) -> None:
    """Celery ``worker_ready`` hook (connected by ``EventsConfig.ready()``): a forwarding
    worker (one serving ``CELERY_TASK_DEFAULT_QUEUE``) that starts, after a crash say,
    drains whatever waits at once."""
    consumer = getattr(sender, "task_consumer", None)
    served = {queue.name for queue in getattr(consumer, "queues", [])}
    if settings.CELERY_TASK_DEFAULT_QUEUE not in served:
        return
    try:
        drain_overdue_streams(force=True)
    except (RedisError, OSError) as exc:
        log.warning("could not look for waiting ingestion entries at start: %s", exc)
