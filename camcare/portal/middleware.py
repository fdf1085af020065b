"""Requests no page can answer, refused before any view runs."""

from django.http import Http404


def refuse_nul_in_path(get_response):
    """A NUL in the path (`%00`) names nothing: no id holds one, and PostgreSQL cannot even
    compare a text with one, so a view looking it up would fail with a 500. The API answers
    its own paths (with its JSON error body); every other page answers the portal's 404."""

    def middleware(request):
        if "\x00" in request.path and not request.path.startswith("/api/"):
            raise Http404("No such page.")
        return get_response(request)

    return middleware
