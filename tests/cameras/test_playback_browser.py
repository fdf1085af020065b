"""A real Chromium plays a clip on its page and seeks in it (HTTP Range at work)."""

from datetime import timedelta

import pytest
from django.test import Client

from tests.cameras.conftest import NOW, add_clip

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PLAYED = """async (video) => {
    if (video.readyState < 1) {
        await new Promise((ok, fail) => {
            video.addEventListener("loadedmetadata", ok, {once: true});
            video.addEventListener("error", () => fail(new Error("media error " + video.error.code)), {once: true});
        });
    }
    const seekable = video.seekable.length ? video.seekable.end(0) : 0;
    video.pause();
    const seeked = new Promise((ok) => video.addEventListener("seeked", ok, {once: true}));
    video.currentTime = 3;
    await seeked;
    return {duration: video.duration, seekable: seekable, at: video.currentTime, error: video.error};
}"""


def test_it_plays_and_seeks_a_clip_in_chromium(live_server, owner, porch, now, mp4, monkeypatch):
    from playwright.sync_api import sync_playwright

    clip = add_clip(porch.camera, NOW - timedelta(hours=1), content=mp4)
    session = Client()
    session.force_login(owner)
    cookie = session.cookies["sessionid"].value
    # Playwright's sync API runs an event loop in this thread; the live server's own
    # threads do the database work, so Django's async guard is not needed here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--autoplay-policy=no-user-gesture-required"])
        try:
            context = browser.new_context()
            context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server.url}])
            page = context.new_page()
            ranges = []
            page.on("request", lambda request: ranges.append(request.headers.get("range")) if "/video" in request.url else None)
            page.goto(f"{live_server.url}/cameras/{porch.camera.id}/clips/?play={clip.id}")
            result = page.locator("[data-testid=player]").evaluate(PLAYED)
        finally:
            browser.close()
    assert result["error"] is None
    assert 3.5 < result["duration"] < 4.5
    assert result["seekable"] > 3.5  # Chromium seeks only in media served with ranges
    assert 2.5 < result["at"] < 3.5
    assert any(header and header.startswith("bytes=") for header in ranges)
