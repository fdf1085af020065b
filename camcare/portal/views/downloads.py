"""The ZIP of every clip a quoted change would erase, offered before the owner confirms
(POLICY.md section 6). It lives in the portal because it reads a billing quote and
serves camera clips: the layers below know only one of the two."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.views.decorators.http import require_GET

from camcare.billing import selectors
from camcare.cameras import erasure
from camcare.cameras.zipstream import zip_response


@login_required
@require_GET
def download_quote(request):
    """`?quote=<quote id>`: every clip the quoted change would erase, on every camera whose
    window it shrinks, with the quote's cut-offs. Visible clips only (erasure.clips_before):
    a held clip is not downloadable (POLICY.md section 6), nor erased by the change."""
    shrinks = selectors.quote_shrinks(request.user, request.GET.get("quote", ""))
    if shrinks is None:
        raise Http404("No such quote.")
    clips = (
        clip
        for camera_id, cutoff in shrinks
        for clip in erasure.clips_before(camera_id, cutoff).filter(camera__account=request.user)
        .select_related("camera").iterator(chunk_size=200)
    )
    return zip_response(clips, "camcare-clips-before-the-change.zip")
