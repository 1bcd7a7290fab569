"""The payload redaction policy applied to whole Arrow columns, for the fast columnar path.

Same meaning, byte for byte, as :meth:`tasqlake.schemas.redaction.FieldAction.apply` on each value
(a property test holds the two to it): ``drop`` nulls the column, ``cap:N`` nulls the values longer
than N UTF-8 bytes, ``truncate:N`` keeps the first N bytes of those longer, cut on a character
boundary, ``hash`` replaces each value by ``sha256:<hex>``. Lengths and masks are computed by
Arrow kernels; only the values that actually change (over-long ones, or every value to hash) go
through Python, and through ``FieldAction.apply`` itself, so the two paths cannot drift apart.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from tasqlake.schemas.redaction import FIELDS, METADATA_KEY, FieldAction, RedactionPolicy

__all__ = ["FIELDS", "redact_array", "redact_columns", "schema_with_policy"]


def redact_array(action: FieldAction, array: pa.Array) -> pa.Array:
    """``array`` (strings) with ``action`` applied to every non-null value."""
    if action.kind == "keep" or array.null_count == len(array):
        return array
    if action.kind == "drop":
        return pa.nulls(len(array), array.type)
    if action.kind == "hash":
        return pa.array([action.apply(v) for v in array.to_pylist()], array.type)
    too_long = pc.fill_null(pc.greater(pc.binary_length(array), action.limit), False)
    if not pc.any(too_long).as_py():
        return array
    if action.kind == "cap":
        return pc.if_else(too_long, pa.scalar(None, array.type), array)
    longer = array.filter(too_long).to_pylist()
    cut = pa.array([action.apply(value) for value in longer], array.type)
    return pc.replace_with_mask(array, too_long, cut)


def redact_columns(policy: RedactionPolicy, arrays: dict[str, pa.Array]) -> None:
    """Apply ``policy`` in place to the sensitive columns present in ``arrays``."""
    for name in FIELDS:
        if name in arrays:
            arrays[name] = redact_array(policy.action(name), arrays[name])


def schema_with_policy(schema: pa.Schema, policy: RedactionPolicy) -> pa.Schema:
    """``schema`` with the policy recorded under ``tasqlake.redaction`` (as EventColumns does)."""
    return schema.with_metadata({**(schema.metadata or {}), METADATA_KEY: str(policy).encode()})
