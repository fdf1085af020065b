"""Hostile query strings: the API takes none and must ignore them; the portal's pages
read theirs (a page number, a clip to play, a quote, a cut-off) and must refuse or ignore
what no record holds."""

from __future__ import annotations

import pytest

from tests.hostile.conftest import assert_page, fill, operations

QUERIES = {
    "a NUL": "x=%00",
    "2,000 parameters": "&".join(f"p{n}=1" for n in range(2000)),
    "5,000 digits": "page=" + "9" * 5000,
    "not UTF-8": "%ff=%fe",
    "5,000 brackets": "x=" + "%5B" * 5000,
}

GETS = [key for key in operations() if key[0] == "GET"]


@pytest.mark.parametrize("query", QUERIES.values(), ids=QUERIES.keys())
def test_it_ignores_a_hostile_query_string_on_every_api_read(query, world, api):
    for _, path in GETS:
        url = fill(path, world.owner)
        plain, hostile = api.get(url), api.get(f"{url}?{query}")
        assert hostile.status_code == plain.status_code == 200, (path, hostile.status_code)


def clips_page(world) -> str:
    return f"/cameras/{world.owner.camera('Porch')}/clips/"


def doomed_zip(world) -> str:
    return f"/cameras/{world.owner.camera('Porch')}/download/"


# (label, page, query, status)
PAGES = [
    ("a page number of 5,000 digits", clips_page, "page=" + "9" * 5000, 200),
    ("a page number with a NUL", clips_page, "page=1%00", 200),
    ("a clip to play with a NUL", clips_page, "play=clp_%00", 200),
    ("a clip to play of 5,000 characters", clips_page, "play=" + "x" * 5000, 200),
    ("a quote with a NUL", lambda w: "/cameras/download/", "quote=quo_%00", 404),
    ("a quote of 5,000 characters", lambda w: "/cameras/download/", "quote=" + "x" * 5000, 404),
    ("a cut-off with a NUL", doomed_zip, "before=2027-0%001-01T00:00:00Z", 400),
    ("a cut-off of 5,000 digits", doomed_zip, "before=" + "9" * 5000, 400),
    ("a cut-off past year 9999", doomed_zip, "before=99999-01-01T00:00:00Z", 400),
]


@pytest.mark.parametrize(("label", "page", "query", "status"), PAGES, ids=[p[0] for p in PAGES])
def test_it_answers_a_hostile_query_string_on_a_camera_page(label, page, query, status, world, portal):
    assert_page(portal.get(f"{page(world)}?{query}"), status)


@pytest.mark.parametrize("path", ["/", "/plans/", "/payments/", "/change/", "/cancel/", "/card/"])
@pytest.mark.parametrize("query", QUERIES.values(), ids=QUERIES.keys())
def test_it_never_fails_on_a_hostile_query_string_on_a_portal_page(path, query, world, portal):
    response = portal.get(f"{path}?{query}")
    assert response.status_code < 500, (path, response.status_code)
