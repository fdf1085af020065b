"""Download before erasure: one streamed ZIP of exactly the clips a change would erase."""

import io
import zipfile
from datetime import timedelta

import pytest

from camcare.billing import actions
from camcare.cameras import zipstream
from camcare.cameras.models import Clip
from camcare.cameras.services import register_camera
from camcare.cameras.views import download_url
from tests.cameras.conftest import NOW, add_clip
from tests.conftest import PASSWORD

DAY = timedelta(days=1)


@pytest.fixture
def signed_in(client, owner):
    client.login(email=owner.email, password=PASSWORD)
    return client


def unzip(response) -> dict[str, bytes]:
    assert response.status_code == 200, response.content if not response.streaming else ""
    assert response.streaming  # written while sent, never whole in memory
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    data = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
        return {name: archive.read(name) for name in archive.namelist()}


def content(n: int) -> bytes:
    return b"\x00\x00\x00\x18ftypmp42" + bytes([n]) * (1000 + n)


def test_it_zips_exactly_the_clips_a_downgrade_would_erase(signed_in, owner, porch, garden, now, premium):
    doomed = [add_clip(porch.camera, NOW - (15 + i) * DAY, content=content(i)) for i in range(3)]
    add_clip(porch.camera, NOW - 14 * DAY, content=content(9))  # on the cut-off: kept
    add_clip(porch.camera, NOW - DAY, content=content(10))
    add_clip(garden.camera, NOW - 20 * DAY, content=content(11))  # garden stays on premium

    preview = actions.preview_change(account=owner, cameras={porch.camera.id: "plus"}, actor=owner)
    [shrink] = preview.erasures
    files = unzip(signed_in.get(download_url(shrink["camera"], shrink["recorded_before"])))

    assert shrink["clips"] == len(files) == 3
    assert files == {f"Porch/{clip.recorded_at:%Y-%m-%dT%H-%M-%SZ}.mp4": content(i) for i, clip in enumerate(doomed)}


def test_it_zips_every_camera_of_a_quoted_cancel(signed_in, owner, porch, garden, now, premium):
    add_clip(porch.camera, NOW - 3 * DAY, content=content(1))
    add_clip(garden.camera, NOW - 5 * DAY, content=content(2))
    add_clip(garden.camera, NOW - DAY, content=content(3))

    preview = actions.preview_cancel(account=owner, actor=owner)
    files = unzip(signed_in.get(f"/cameras/download/?quote={preview.quote_id}"))

    assert sum(e["clips"] for e in preview.erasures) == len(files) == 2
    assert files == {
        "Porch/2026-11-23T12-00-00Z.mp4": content(1),
        "Garden/2026-11-21T12-00-00Z.mp4": content(2),
    }


def test_it_names_clips_safely_and_uniquely(signed_in, owner, now):
    camera, _ = register_camera(owner, 'Back/door: "east"', "", "SN-B")
    first = add_clip(camera, NOW - 3 * DAY, content=content(1))
    add_clip(camera, first.recorded_at, content=content(2))
    files = unzip(signed_in.get(download_url(camera.id, NOW)))
    assert sorted(files) == ["Back_door_ _east_/2026-11-23T12-00-00Z-2.mp4", "Back_door_ _east_/2026-11-23T12-00-00Z.mp4"]


def test_it_answers_404_to_an_outsider(client, outsider, porch, now, premium, owner):
    add_clip(porch.camera, NOW - 20 * DAY)
    preview = actions.preview_cancel(account=owner, actor=owner)
    client.login(email=outsider.email, password=PASSWORD)
    assert client.get(download_url(porch.camera.id, NOW)).status_code == 404
    assert client.get(f"/cameras/download/?quote={preview.quote_id}").status_code == 404
    assert client.get("/cameras/download/?quote=quo_nope").status_code == 404


def test_it_refuses_a_link_without_a_valid_instant(signed_in, porch, now):
    for query in ("", "?before=yesterday", "?before=2026-11-20T00:00:00"):
        response = signed_in.get(f"/cameras/{porch.camera.id}/download/{query}")
        assert response.status_code == 400, query
        assert b"ERR-" in response.content


def test_it_sends_an_anonymous_visitor_to_sign_in(client, porch, now):
    response = client.get(download_url(porch.camera.id, NOW))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_it_serves_an_empty_zip_when_nothing_would_be_erased(signed_in, porch, now):
    add_clip(porch.camera, NOW - DAY)
    assert unzip(signed_in.get(download_url(porch.camera.id, NOW - 2 * DAY))) == {}


def test_it_streams_the_zip_a_chunk_at_a_time(porch, now):
    big = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 2000  # 512 KB
    clip = add_clip(porch.camera, NOW - DAY, content=big)
    parts = list(zipstream.zip_clips(Clip.objects.filter(id=clip.id).select_related("camera")))
    assert len(parts) > 8
    assert max(len(part) for part in parts) <= zipstream.CHUNK + 512
    with zipfile.ZipFile(io.BytesIO(b"".join(parts))) as archive:
        assert archive.read(archive.namelist()[0]) == big
