"""Reading log files: plain or gzip (detected by content, not by name), `-` for stdin, lines decoded as UTF-8
with a Latin-1 fallback (older Apache logs), so reading never fails on a bad byte."""

from __future__ import annotations

import gzip
import io
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

_GZIP_MAGIC = b"\x1f\x8b"


@contextmanager
def open_log(name: str) -> Iterator[BinaryIO]:
    raw: BinaryIO = sys.stdin.buffer if name == "-" else open(name, "rb")  # noqa: SIM115 - closed below
    try:
        head = raw.peek(2)[:2] if isinstance(raw, io.BufferedReader) else b""
        if head == _GZIP_MAGIC:
            with gzip.GzipFile(fileobj=raw) as unzipped:
                yield unzipped  # type: ignore[misc]  # GzipFile is a binary stream
        else:
            yield raw
    finally:
        if name != "-":
            raw.close()


def decode_line(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text.rstrip("\r\n")


class LineReader:
    """The lines of a file; a compressed stream that breaks off (a truncated or corrupt `.gz`) ends the lines
    read so far instead of raising, and `problem` says what happened: the caller keeps it as a reject."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.problem: str | None = None
        self.lines = 0

    def __iter__(self) -> Iterator[str]:
        with open_log(self.name) as stream:
            try:
                for data in stream:
                    self.lines += 1
                    yield decode_line(data)
            except (EOFError, zlib.error, gzip.BadGzipFile) as error:
                self.problem = f"unreadable input: truncated or corrupt compressed file ({type(error).__name__})"


def read_lines(name: str) -> Iterator[str]:
    yield from LineReader(name)


def source_name(name: str) -> str:
    """The source a file's line ids are tied to: its base name without `.gz`, so the same log re-ingested from
    another folder, or after compression, gives the same ids."""
    if name == "-":
        return "stdin"
    base = Path(name).name
    return base[:-3] if base.endswith(".gz") else base
