"""tasqlake's derived statistics: DuckDB views over the Parquet event lake, replaying the log.

Every statistic is a view defined in one ``queries/*.sql`` file (header comment: meaning, grain,
columns). :func:`connect` gives a DuckDB connection with all of them; every view answers "as of"
the DuckDB variable ``as_of`` (unset: now). Depends on :mod:`schemas` only.
"""

from __future__ import annotations

from queries.connection import connect, normalise_as_of, set_as_of

__all__ = ["connect", "normalise_as_of", "set_as_of"]
