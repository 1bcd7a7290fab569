"""Wire shapes: the payload's shape, versioned, and the one place older shapes are upcast.

A *wire shape* is one version of the map AsyncTasQ publishes, named ``asynctasq-events/N``.
AsyncTasQ 1.0 to 1.7 all publish shape 1 (the keys of :class:`~tasqlake.schemas.wire.WirePayload`);
it is the current shape, and no older one exists yet. Should a release change the payload:

* the new map becomes the current shape (``CURRENT_WIRE_SHAPE``, WirePayload and the fast path's
  Structs in :mod:`tasqlake.ingest.processing.fast_wire` describe it), and the shape it replaces
  gets an :class:`OlderShape` in :data:`SHAPES`: a ``recognise`` predicate and an ``upcast``
  function turning one of its payloads into the next shape's. :meth:`WireShapes.to_current`
  applies the chain in order (N → N+1 → … → current) to the decoded map *before* it is
  validated and turned into a stored row, so the stored schema never sees an older shape;
* how a shape is recognised, in this order: a payload declaring its number under
  ``DECLARED_WIRE_SHAPE_KEY`` (``wire_shape``) has that shape, and one declaring a number this
  tasqlake does not read is quarantined as ``unknown wire shape`` (upgrade, then
  ``tasqlake import --from-quarantine``); otherwise the first older shape, newest first, whose
  ``recognise`` accepts the map (e.g. a key present or absent, a value's type; the predicates
  of the chain must not overlap); otherwise the current shape. ``recognise`` is only ever asked
  about payloads the current shape's Structs refused, so an older shape must differ in a way
  they refuse (a key added, missing or renamed, a type): one that differs only in what values
  mean needs a declared number, or the Structs tightened to refuse it.

The fast path is untouched by all this: a payload that decodes into the current shape's Structs
is the current shape (they forbid unknown keys, so neither an older shape's keys nor the
declared number get through), and only the payloads they refuse reach :meth:`detect`.

Each events file records the shapes its rows were decoded from in its Parquet key-value
metadata under ``tasqlake.wire_shapes`` (names sorted by number, comma-separated, e.g.
``asynctasq-events/1``); a file written before the key existed was decoded from shape 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tasqlake.schemas.constants import (
    CURRENT_WIRE_SHAPE,
    DECLARED_WIRE_SHAPE_KEY,
    LEGACY_WIRE_SHAPE,
    WIRE_SHAPE_FAMILY,
    WIRE_SHAPES_METADATA_KEY,
)
from tasqlake.schemas.errors import PayloadError

#: Quarantine reasons: a payload declaring a shape this tasqlake does not read; a payload of an
#: older shape its upcaster could not convert.
UNKNOWN_SHAPE = "unknown wire shape"
UPCAST_FAILED = "cannot upcast"

Payload = dict[str, Any]


@dataclass(frozen=True, slots=True)
class OlderShape:
    """A shape older than the current one: how to recognise its payloads, how to upcast them.

    ``upcast`` takes a decoded payload of shape ``version`` and returns the same event as a
    payload of shape ``version + 1`` (a new dict; keys it does not know are left for ``extra``).
    """

    version: int
    recognise: Callable[[Mapping[str, Any]], bool]
    upcast: Callable[[Payload], Payload]
    summary: str = ""


def shape_name(version: int) -> str:
    """``asynctasq-events/<version>``."""
    return f"{WIRE_SHAPE_FAMILY}/{version}"


class WireShapes:
    """The shapes one tasqlake reads: the current one and the upcaster chain to it."""

    __slots__ = ("_current", "_newest_first", "_upcasters")

    def __init__(self, older: Iterable[OlderShape] = (), current: int = CURRENT_WIRE_SHAPE) -> None:
        shapes = sorted(older, key=lambda shape: shape.version)
        expected = list(range(current - len(shapes), current))
        if [shape.version for shape in shapes] != expected:
            raise ValueError(
                f"older wire shapes must be the consecutive versions before {current}, each "
                f"upcasting to the next; got {[shape.version for shape in shapes]}"
            )
        self._current = current
        self._newest_first = tuple(reversed(shapes))
        self._upcasters = tuple(shape.upcast for shape in shapes)  # oldest first

    @property
    def current(self) -> int:
        return self._current

    @property
    def versions(self) -> tuple[int, ...]:
        """Every shape read, oldest first."""
        return (*(shape.version for shape in reversed(self._newest_first)), self._current)

    def with_older(self, shape: OlderShape) -> WireShapes:
        """These shapes plus ``shape``, the one just before the oldest known."""
        return WireShapes((*self._newest_first, shape), self._current)

    def detect(self, payload: Mapping[str, Any]) -> int:
        """The shape of a decoded payload (a map with string keys); raises ``PayloadError``
        (``unknown wire shape``) when it declares a shape this tasqlake does not read."""
        if DECLARED_WIRE_SHAPE_KEY in payload:
            declared = payload[DECLARED_WIRE_SHAPE_KEY]
            if type(declared) is int and declared in self.versions:
                return declared
            readable = ", ".join(shape_name(v) for v in self.versions)
            raise PayloadError(
                UNKNOWN_SHAPE,
                f"payload declares {DECLARED_WIRE_SHAPE_KEY}={declared!r}; this tasqlake reads "
                f"{readable}: upgrade tasqlake, then run 'tasqlake import --from-quarantine "
                f'--reason "{UNKNOWN_SHAPE}"\'',
            )
        for shape in self._newest_first:
            if shape.recognise(payload):
                return shape.version
        return self._current

    def to_current(self, payload: Payload) -> tuple[Payload, int]:
        """``payload`` upcast to the current shape, and the shape it arrived in.

        A payload already in the current shape is returned as it is (no copy). The declared
        number, if any, is removed: it is recorded in the file's metadata, not in the row.
        """
        version = self.detect(payload)
        if DECLARED_WIRE_SHAPE_KEY in payload:
            payload = {k: v for k, v in payload.items() if k != DECLARED_WIRE_SHAPE_KEY}
        first = len(self._upcasters) - (self._current - version)
        for step, upcast in enumerate(self._upcasters[first:], version):
            try:
                payload = upcast(payload)
                if not isinstance(payload, dict):
                    raise TypeError(f"returned a {type(payload).__name__}, not a dict")
            except Exception as error:  # an older payload the upcaster did not foresee
                raise PayloadError(
                    UPCAST_FAILED,
                    f"{shape_name(step)} -> {shape_name(step + 1)}: "
                    f"{type(error).__name__}: {error}",
                ) from None
        return payload, version


#: The shapes this tasqlake reads: AsyncTasQ 1.0 to 1.7's, current; no older shape exists yet.
SHAPES = WireShapes()


# --- the record of shapes in each events file ------------------------------------------------


def _order(name: str) -> tuple[str, int, str]:
    family, _, number = name.rpartition("/")
    return (family, int(number) if number.isdigit() else -1, name)


def sorted_shape_names(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` without duplicates, by family then number (``…/2`` before ``…/10``)."""
    return tuple(sorted(set(names), key=_order))


def shapes_metadata(names: Iterable[str]) -> dict[bytes, bytes]:
    """The key-value metadata recording ``names`` (sorted by number, duplicates removed)."""
    return {WIRE_SHAPES_METADATA_KEY: ",".join(sorted_shape_names(names)).encode()}


def versions_metadata(versions: Iterable[int]) -> dict[bytes, bytes]:
    """The key-value metadata recording shapes given by number."""
    return shapes_metadata(shape_name(v) for v in versions)


def wire_shapes_of(metadata: Mapping[bytes, bytes] | None) -> tuple[str, ...]:
    """The shape names a file's schema metadata records; a file without the key (written
    before it existed) was decoded from shape 1."""
    raw = (metadata or {}).get(WIRE_SHAPES_METADATA_KEY)
    if raw is None:
        return (shape_name(LEGACY_WIRE_SHAPE),)
    return sorted_shape_names(n.strip() for n in raw.decode().split(",") if n.strip())


def shapes_of_rows(rows: int, older: Mapping[int, int]) -> list[int]:
    """The shapes of ``rows`` rows of which ``older`` counts those of each older shape (the
    rest are in the current shape); no rows at all: the current shape."""
    shapes = sorted(shape for shape, count in older.items() if count)
    if rows > sum(older.values()) or not shapes:
        shapes.append(CURRENT_WIRE_SHAPE)
    return shapes
