"""Writing a batch whose records the database may refuse one by one: the culprits are found by bisection, and
the rest is written once.

The whole batch is tried first (the usual case: it is kept). When the database refuses it for a value (see
`faults.is_value_error`), halves are tried, each in a savepoint that is always rolled back, down to single
records: a batch of n records with one culprit costs about 2 log2(n) trial writes over 3n records in all,
not n savepoints. The records found storable are then written together by one `write_records`, whose rollup
upserts lock their rows in one sorted order: two connections isolating culprits at the same time therefore
take rollup locks in the same order and cannot deadlock (trials hold none once rolled back).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from georchestra_analytics.db.faults import error_name, is_value_error
from georchestra_analytics.db.schema_info import SchemaInfo
from georchestra_analytics.db.writer import write_records

# Rounds of bisection before the records still refused together are given up as a whole: a refusal that
# only a combination of records causes (each alone is storable) cannot be narrowed down further.
_MAX_ROUNDS = 3


@dataclass
class IsolatedWrite:
    written: int = 0  # new records stored
    refused: dict[int, str] = field(default_factory=dict)  # position in the batch -> the database's reason
    trials: int = 0  # trial writes (rolled back); 0 for a batch taken whole
    rows_sent: int = 0  # records sent to the database over every attempt: the cost of the isolation


def _try(
    conn: psycopg.Connection[Any],
    schema: str,
    records: Sequence[Mapping[str, Any]],
    info: SchemaInfo,
    outcome: IsolatedWrite,
    checked: bool,
) -> str | None:
    """The reason the database refuses these records, or None; nothing is kept either way."""
    outcome.trials += 1
    outcome.rows_sent += len(records)
    try:
        with conn.transaction(force_rollback=True):
            write_records(conn, schema, records, info=info, checked=checked)
    except Exception as error:
        if not is_value_error(error):
            raise
        return error_name(error)
    return None


def _bisect(
    conn: psycopg.Connection[Any],
    schema: str,
    records: Sequence[Mapping[str, Any]],
    positions: list[int],
    reason: str,
    info: SchemaInfo,
    outcome: IsolatedWrite,
    checked: bool,
) -> None:
    """`positions` (indexes into records) are refused together with `reason`: find which alone are."""
    if len(positions) == 1:
        outcome.refused[positions[0]] = reason
        return
    middle = len(positions) // 2
    for half in (positions[:middle], positions[middle:]):
        found = _try(conn, schema, [records[i] for i in half], info, outcome, checked)
        if found is not None:
            _bisect(conn, schema, records, half, found, info, outcome, checked)


def write_isolating(
    conn: psycopg.Connection[Any],
    schema: str,
    records: Sequence[Mapping[str, Any]],
    info: SchemaInfo,
    *,
    checked: bool = False,
) -> IsolatedWrite:
    """Store the records the database accepts; report the others with the reason it gave. Errors that are not
    about values (connection, server) propagate. Must run inside the caller's transaction. `checked`: as for
    write_records."""
    outcome = IsolatedWrite()
    pending = list(range(len(records)))
    for _ in range(_MAX_ROUNDS):
        outcome.rows_sent += len(pending)
        try:
            with conn.transaction():  # a savepoint: a refusal leaves the caller's transaction usable
                outcome.written += write_records(
                    conn, schema, [records[i] for i in pending], info=info, checked=checked
                )
            return outcome
        except Exception as error:
            if not is_value_error(error):
                raise
            reason = error_name(error)
        before = len(outcome.refused)
        _bisect(conn, schema, records, pending, reason, info, outcome, checked)
        if len(outcome.refused) == before:
            break  # each alone is storable, together they are not
        pending = [i for i in pending if i not in outcome.refused]
        if not pending:
            return outcome
    for position in pending:
        outcome.refused[position] = f"refused with its batch: {reason}"
    return outcome
