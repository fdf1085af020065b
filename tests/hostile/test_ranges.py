"""Hostile Range headers on a clip's video (GET /clips/{id}/video), which the portal's
player calls with its session and an app with its bearer token."""

from __future__ import annotations

import pytest

from camcare.cameras.models import Clip
from tests.hostile.conftest import assert_refused

VIDEO = ("GET", "/api/v1/clips/{clip_id}/video")
HUGE = "9" * 5000  # past Python's 4300-digit limit of int("...")

# (label, Range, status, Content-Range with S for the clip's size; None: no such header)
RANGES = [
    ("a start of 5,000 digits", f"bytes={HUGE}-", 416, "bytes */S"),
    ("a start and an end of 5,000 digits", f"bytes={HUGE}-{HUGE}", 416, "bytes */S"),
    ("an end of 5,000 digits", f"bytes=0-{HUGE}", 206, "bytes 0-E/S"),
    ("a suffix of 5,000 digits", f"bytes=-{HUGE}", 206, "bytes 0-E/S"),
    ("5,000 leading zeros", f"bytes={'0' * 5000}1-{'0' * 5000}2", 206, "bytes 1-2/S"),
    ("an empty suffix", "bytes=-0", 416, "bytes */S"),
    ("2,000 ranges", "bytes=" + "1-2," * 2000, 200, None),
    ("digits that are not ASCII", "bytes=\u0663-\u0664", 200, None),
    ("100,000 characters of junk", "bytes=" + "x" * 100_000, 200, None),
    ("an end before the start", "bytes=5-1", 200, None),
    ("another unit", f"items=0-{HUGE}", 200, None),
]


def expected_range(template: str | None, size: int) -> str | None:
    return template and template.replace("S", str(size)).replace("E", str(size - 1))


@pytest.mark.parametrize("caller", ["bearer token", "portal session"])
@pytest.mark.parametrize(("label", "header", "status", "content_range"), RANGES, ids=[r[0] for r in RANGES])
def test_it_answers_a_hostile_range_as_rfc_9110_says_never_500(label, header, status, content_range, caller,
                                                               world, api, portal):
    size = Clip.objects.get(pk=world.owner.clip_id).size
    url = VIDEO[1].replace("{clip_id}", world.owner.clip_id)
    client, headers = (api.client, api.headers) if caller == "bearer token" else (portal, {})
    response = client.get(url, headers={**headers, "Range": header})
    assert response.status_code == status, response.content[:300] if not response.streaming else status
    assert response.get("Content-Range") == expected_range(content_range, size)
    if status == 416:
        assert_refused(response, VIDEO, 416, "range_not_satisfiable", account=world.owner.account)
    else:
        assert int(response["Content-Length"]) == len(b"".join(response.streaming_content))


def test_it_ignores_a_hostile_if_range(world, api):
    url = VIDEO[1].replace("{clip_id}", world.owner.clip_id)
    response = api.get(url, headers={"Range": f"bytes={HUGE}-", "If-Range": '"' + "x" * 5000 + '"'})
    assert response.status_code == 200  # If-Range is not the clip's ETag: the whole clip
