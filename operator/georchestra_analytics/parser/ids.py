"""Stable record ids: a digest of the content and the source, never of a position in a batch or a file,
so a replay or a re-ingest produces the same id and `UNIQUE (ts, id)` absorbs it."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

# 128 bits: collisions among billions of records stay negligible, and the text stays short for the index.
_DIGEST_BYTES = 16
_SEPARATOR = b"\x1f"  # unit separator: cannot occur in the text parts, so part boundaries stay unambiguous


def stable_id(*parts: str) -> str:
    digest = hashlib.blake2b(digest_size=_DIGEST_BYTES)
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(_SEPARATOR)
    return digest.hexdigest()


_DIGEST = re.compile(rf"^[0-9a-f]{{{2 * _DIGEST_BYTES}}}$")


def record_id(uid: str) -> str:
    """The record id for a `log.record.uid`: a digest of ours (`ingest` gives one) is kept, anything else (the
    collector's "file, offset, line" name, or whatever an application sends) is digested, so an id is always
    32 hexadecimal characters, whatever arrives."""
    return uid if _DIGEST.match(uid) else stable_id("uid", uid)


def line_id(source: str, line: str, occurrence: int) -> str:
    """Id of a text log line: its source (file name), its content, and how many identical lines came before
    it in that source (two identical lines in one file are two requests)."""
    return stable_id("line", source, line, str(occurrence))


def reject_id(raw: Mapping[str, Any], uid_attribute: str) -> str:
    """Id of a reject, so that the same input rejected again is stored once. A line `ingest` loaded carries
    its own id (file, text, occurrence): that id and the text. Anything else: a digest of the whole input but
    the time it was collected at (a re-sent row is stamped anew)."""
    attributes = raw.get("attributes")
    uid = attributes.get(uid_attribute) if isinstance(attributes, dict) else None
    message = raw.get("message")
    if raw.get("source_type") == "file" and isinstance(uid, str) and isinstance(message, str):
        return stable_id("reject", uid, message)
    kept = {key: value for key, value in raw.items() if key != "observed_timestamp"}
    return stable_id("reject", json.dumps(kept, sort_keys=True, default=str, ensure_ascii=False))
