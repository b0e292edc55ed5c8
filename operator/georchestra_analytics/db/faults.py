"""Which database errors one record can cause, and which are the server's: the first are isolated to the record
(it becomes a reject), the second fail the run with a message that says what kind of fault it was."""

from __future__ import annotations

import psycopg

from georchestra_analytics.db.writer import InvalidRecord

# SQLSTATE classes about the values written, never about the server: data exceptions (22), integrity
# violations (23) and program limits such as an index row too large (54).
_VALUE_CLASSES = frozenset({"22", "23", "54"})

# SQLSTATE class -> what the run's failure message calls it.
_SERVER_CLASSES = {
    "08": "database unreachable or connection lost",
    "40": "transaction aborted by the server (deadlock or serialization failure, retried)",
    "42": "database permission or schema problem",
    "53": "database server out of resources",
    "55": "database object not in the required state (lock not available)",
    "57": "database server stopped the statement (cancel, shutdown or timeout)",
    "58": "database server system error",
    "XX": "database internal error",
}


def sqlstate_class(error: BaseException) -> str | None:
    code = getattr(error, "sqlstate", None)
    return code[:2] if isinstance(code, str) and len(code) >= 2 else None


def is_value_error(error: BaseException) -> bool:
    """True when the error is about the values of what was written (a record can cause it), so writing the
    records apart finds the culprit; False for a fault of the connection or the server."""
    if isinstance(error, UnicodeError | InvalidRecord):
        return True  # a value psycopg cannot send, or the writer's own check: one record, not the connection
    return isinstance(error, psycopg.Error) and sqlstate_class(error) in _VALUE_CLASSES


def error_name(error: BaseException) -> str:
    """Short and low-cardinality: the exception's name and SQLSTATE, not its message (which holds values)."""
    code = getattr(error, "sqlstate", None)
    return f"{type(error).__name__} ({code})" if code else type(error).__name__


def describe_fault(error: BaseException) -> str:
    """The run's failure message: what kind of fault, then the server's words."""
    detail = str(error).strip()
    if isinstance(error, psycopg.InterfaceError):
        kind = "database connection lost"
    else:
        kind = _SERVER_CLASSES.get(sqlstate_class(error) or "", "")
        if not kind:
            kind = (
                "database unreachable or connection lost"
                if getattr(error, "sqlstate", None) is None and isinstance(error, psycopg.OperationalError)
                else "database error"
            )
    return f"{kind}: {error_name(error)}: {detail}"
