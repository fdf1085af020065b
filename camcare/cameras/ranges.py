"""HTTP Range (RFC 9110 section 14) for clip playback: one byte range, streamed.

Browsers seek in a <video> by asking for `bytes=a-`; answering 206 with exactly those
bytes is what makes seeking work. Several ranges at once are answered with the whole
file (200), which RFC 9110 allows and which spares us multipart/byteranges.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.http import StreamingHttpResponse

CHUNK = 64 * 1024
_SPEC = re.compile(r"[ \t]*([0-9]*)[ \t]*-[ \t]*([0-9]*)[ \t]*")
# Digits past this many say "beyond any byte of any clip", whatever they spell; converting
# them would only cost time (or fail, past Python's 4300-digit limit: a 500).
MAX_DIGITS = 18
BEYOND = 10**MAX_DIGITS


def _position(digits: str) -> int:
    significant = digits.lstrip("0")
    return int(significant or "0") if len(significant) <= MAX_DIGITS else BEYOND


class Unsatisfiable(Exception):
    """The range is well-formed but no byte of it exists (answer 416)."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range `header` asks of a `size`-byte file; None to answer the whole file
    (no header, another unit, several ranges, or a malformed one, which RFC 9110 lets a
    server ignore). Raises Unsatisfiable for a range that starts past the end."""
    if not header:
        return None
    unit, _, specs = header.partition("=")
    if unit.strip().lower() != "bytes" or not specs or "," in specs:
        return None
    match = _SPEC.fullmatch(specs)
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last n bytes
        suffix = _position(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable()
        return ByteRange(max(0, size - suffix), size - 1)
    start = _position(first)
    end = _position(last) if last else size - 1
    if last and end < start:
        return None  # invalid range-spec: ignored
    if start >= size:
        raise Unsatisfiable()
    return ByteRange(start, min(end, size - 1))


class FileSlice:
    """Iterates `length` bytes of an open file from `start`, then closes it (Django calls
    close() when the response is done, even if the client went away)."""

    def __init__(self, handle, start: int, length: int):
        self.handle = handle
        self.start = start
        self.remaining = length

    def __iter__(self) -> Iterator[bytes]:
        if self.start:
            self.handle.seek(self.start)
        while self.remaining > 0:
            chunk = self.handle.read(min(CHUNK, self.remaining))
            if not chunk:
                break
            self.remaining -= len(chunk)
            yield chunk

    def close(self) -> None:
        self.handle.close()


def ranged_response(handle, *, size: int, content_type: str, range_header: str | None,
                    etag: str, if_range: str | None = None) -> StreamingHttpResponse:
    """200 with the whole file or 206 with one range of it. Raises Unsatisfiable (the
    caller answers 416 with `Content-Range: bytes */size`). `handle` is closed by the
    response, or here if no response is made."""
    try:
        wanted = None if if_range not in (None, etag) else parse_range(range_header, size)
    except Unsatisfiable:
        handle.close()
        raise
    if wanted is None:
        response = StreamingHttpResponse(FileSlice(handle, 0, size), content_type=content_type)
        response["Content-Length"] = str(size)
    else:
        response = StreamingHttpResponse(
            FileSlice(handle, wanted.start, wanted.length), status=206, content_type=content_type,
        )
        response["Content-Length"] = str(wanted.length)
        response["Content-Range"] = f"bytes {wanted.start}-{wanted.end}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    return response
