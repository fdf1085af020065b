"""The portal page of a camera's clips: newest first, time, duration, size, playback."""

import re
from datetime import timedelta

import pytest

from tests.cameras.conftest import NOW, add_clip
from tests.conftest import PASSWORD

DAY = timedelta(days=1)


@pytest.fixture
def signed_in(client, owner):
    client.login(email=owner.email, password=PASSWORD)
    return client


def test_it_lists_the_clips_newest_first_with_time_duration_and_size(signed_in, porch, garden, now, mp4):
    old = add_clip(porch.camera, NOW - DAY - timedelta(hours=3), content=mp4, duration_s=12)
    new = add_clip(porch.camera, NOW - timedelta(minutes=10), content=mp4)
    add_clip(garden.camera, NOW - timedelta(minutes=1))
    response = signed_in.get(f"/cameras/{porch.camera.id}/clips/")
    assert response.status_code == 200
    page = response.content.decode()
    assert re.findall(r'data-clip="(clp_\w+)"', page) == [new.id, old.id]
    assert "26 Nov 2026, 11:50 UTC" in page and "25 Nov 2026, 09:00 UTC" in page
    assert "12 s" in page
    assert "8.7\xa0KB" in page
    assert "<video" not in page


def test_it_plays_the_chosen_clip_from_the_session_authenticated_video_url(signed_in, porch, now, mp4):
    clip = add_clip(porch.camera, NOW - DAY, content=mp4)
    page = signed_in.get(f"/cameras/{porch.camera.id}/clips/?play={clip.id}").content.decode()
    assert f'src="/api/v1/clips/{clip.id}/video"' in page
    assert "<video" in page and " controls" in page
    assert "style=" not in page and "<script>" not in page  # the CSP allows neither


def test_it_does_not_play_a_clip_of_another_camera(signed_in, porch, garden, now):
    other = add_clip(garden.camera, NOW - DAY)
    page = signed_in.get(f"/cameras/{porch.camera.id}/clips/?play={other.id}").content.decode()
    assert "<video" not in page


def test_it_pages_a_long_list(signed_in, porch, now):
    for minute in range(55):
        add_clip(porch.camera, NOW - timedelta(minutes=minute))
    first = signed_in.get(f"/cameras/{porch.camera.id}/clips/").content.decode()
    second = signed_in.get(f"/cameras/{porch.camera.id}/clips/?page=2").content.decode()
    assert (first.count('data-testid="clip-row"'), second.count('data-testid="clip-row"')) == (50, 5)


def test_it_answers_404_to_an_outsider(client, outsider, porch, now):
    add_clip(porch.camera, NOW - DAY)
    client.login(email=outsider.email, password=PASSWORD)
    assert client.get(f"/cameras/{porch.camera.id}/clips/").status_code == 404
    assert client.get("/cameras/cam_nope/clips/").status_code == 404


def test_it_sends_an_anonymous_visitor_to_sign_in(client, porch):
    response = client.get(f"/cameras/{porch.camera.id}/clips/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]
