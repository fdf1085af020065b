"""A ZIP of clips written while it is sent: memory stays at one chunk, whatever the size.

zipfile writes into a pipe-like buffer that cannot seek, so it puts each entry's CRC and
sizes in a data descriptor after the data; the generator hands out whatever the buffer
holds after each chunk. Entries are ZIP_STORED: video does not compress.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse

from camcare.cameras.clipstore import open_clip
from camcare.cameras.models import EXTENSIONS, Clip

CHUNK = 64 * 1024
_UNSAFE = re.compile(r'[\x00-\x1f/\\:*?"<>|]+')


class _Pipe:
    """A write-only file whose content is taken away by `drain()` (no seek, no tell)."""

    def __init__(self):
        self._parts: list[bytes] = []

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def safe_folder(name: str) -> str:
    """A camera name usable as a folder in the archive on every OS."""
    cleaned = _UNSAFE.sub("_", name).strip(" .")
    return cleaned or "camera"


def entry_name(clip: Clip, folder: str) -> str:
    extension = EXTENSIONS.get(clip.content_type, "mp4")
    return f"{folder}/{clip.recorded_at:%Y-%m-%dT%H-%M-%SZ}.{extension}"


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    stem, _, extension = name.rpartition(".")
    number = 2
    while f"{stem}-{number}.{extension}" in taken:
        number += 1
    return f"{stem}-{number}.{extension}"


def zip_clips(clips: Iterable[Clip]) -> Iterator[bytes]:
    """The bytes of a ZIP holding `clips` (with `camera` loaded) as
    `<camera name>/<recorded_at>.<ext>`. A clip whose file is already gone (erased
    meanwhile) is left out rather than breaking the download half way."""
    return (part for part in _zip_parts(clips) if part)


def _zip_parts(clips: Iterable[Clip]) -> Iterator[bytes]:
    pipe = _Pipe()
    taken: set[str] = set()
    with zipfile.ZipFile(pipe, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for clip in clips:
            try:
                source = open_clip(clip)
            except FileNotFoundError:
                continue
            with source:
                name = _unique(entry_name(clip, safe_folder(clip.camera.name)), taken)
                taken.add(name)
                info = zipfile.ZipInfo(name, date_time=clip.recorded_at.timetuple()[:6])
                info.compress_type = zipfile.ZIP_STORED
                info.file_size = clip.size  # lets zipfile pick ZIP64 up front if ever needed
                with archive.open(info, mode="w") as entry:
                    while chunk := source.read(CHUNK):
                        entry.write(chunk)
                        yield pipe.drain()
            yield pipe.drain()
    yield pipe.drain()


def zip_response(clips: Iterable[Clip], filename: str):
    """A streamed, never-cached ZIP download of `clips` (the files a change will erase)."""
    response = StreamingHttpResponse(zip_clips(clips), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
