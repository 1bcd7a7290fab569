"""Names and defaults shared by every part of tasqlake (one place, like arq's constants)."""

from __future__ import annotations

DEFAULT_CHANNEL = "asynctasq:events"
#: The Redis Stream the at-least-once path uses (tasqlake.emitter writes it, ingest --stream
#: reads it): the same name as the channel (a stream is a key, a channel is not: no clash).
DEFAULT_STREAM = "asynctasq:events"
#: The field of a stream entry holding the payload, byte for byte as the Pub/Sub emitter
#: publishes it.
STREAM_PAYLOAD_FIELD = "payload"
#: Approximate bound on the stream's length (XADD MAXLEN ~): entries trimmed before a consumer
#: group read them are detected and recorded as a gap by the ingester.
DEFAULT_STREAM_MAXLEN = 1_000_000
#: The consumer group tasqlake ingesters read the stream in (one group: they share the work;
#: several groups: each stores everything).
DEFAULT_CONSUMER_GROUP = "tasqlake"
DEFAULT_REDIS_URL = "redis://localhost:6379"
DEFAULT_LAKE = "./lake"

DEFAULT_FLUSH_INTERVAL_S = 1.0
DEFAULT_MAX_BATCH_EVENTS = 200_000
DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024
DEFAULT_STATUS_INTERVAL_S = 5.0
DEFAULT_WAL_FSYNC_INTERVAL_S = 1.0
DEFAULT_HEALTH_CHECK_INTERVAL_S = 5.0
#: How often a subscribed ingester saves "subscribed until now" (WAL dir, state.json), where the
#: next incarnation's start-up gap record begins: a SIGKILL leaves at most this much of its
#: subscribed time inside that record (stated as possibly lost, never the other way round).
SUBSCRIBED_MARK_INTERVAL_S = 1.0
DEFAULT_RECONNECT_MAX_DELAY_S = 10.0

#: The snapshot chain's bound: how long after a task's terminal event another event of that
#: task may still be stamped (``allowed_lateness``). At least the 5-minute throughput window of
#: queue_stats, which reads the tasks not settled only.
DEFAULT_ALLOWED_LATENESS_S = 3600.0
MIN_ALLOWED_LATENESS_S = 300.0
#: How far back the chain looks for the settled task an event arriving too late belongs to.
LATENESS_DETECTION_HORIZON_S = 7 * 86400.0

#: Events stamped earlier than this, or later than now + the skew allowance, are quarantined.
MIN_EVENT_YEAR = 2000
MAX_FUTURE_SKEW_S = 24 * 3600

#: The payload's shape, versioned (:mod:`tasqlake.schemas.wire_shapes`): AsyncTasQ 1.0 to 1.7 all
#: publish shape 1, named ``asynctasq-events/1``.
WIRE_SHAPE_FAMILY = "asynctasq-events"
CURRENT_WIRE_SHAPE = 1
#: A payload key declaring its shape's number. No AsyncTasQ release sends it (their shape is
#: recognised by having none); a payload declaring a number this tasqlake does not read is
#: quarantined as "unknown wire shape" instead of being stored half understood.
DECLARED_WIRE_SHAPE_KEY = "wire_shape"
#: Parquet key-value metadata of every events file: the shapes its rows were decoded from.
WIRE_SHAPES_METADATA_KEY = b"tasqlake.wire_shapes"
#: What an events file without that key (written before it existed) was decoded from.
LEGACY_WIRE_SHAPE = 1

TASK_EVENT_TYPES = frozenset(
    {
        "task_enqueued",
        "task_started",
        "task_completed",
        "task_failed",
        "task_reenqueued",
        "task_cancelled",
    }
)
WORKER_EVENT_TYPES = frozenset({"worker_online", "worker_heartbeat", "worker_offline"})
KNOWN_EVENT_TYPES = TASK_EVENT_TYPES | WORKER_EVENT_TYPES
