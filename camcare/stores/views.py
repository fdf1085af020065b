"""The support console's page of store purchases that no account holds (README,
"App-store subscriptions"): those naming no known account, those kept beside another
subscription, and the notifications that did not verify. Staff only, and like every
console page only once the session passed the second factor; a look is audited like every
look of the console."""

from urllib.parse import urlencode

from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse

from camcare.audit.events import Event, audit
from camcare.stores import selectors


def unlinked(request):
    # The console's rules (camcare.support.access, which this layer may not import):
    # anyone but staff gets the 404 of a missing page; staff who did not pass the TOTP step
    # in this session go to it first, and come back here after it.
    if not request.user.is_staff:
        raise Http404
    if not _is_verified(request.user):
        return redirect(reverse("support:verify") + "?" + urlencode({"next": request.get_full_path()}))
    panel = selectors.unlinked_panel()
    audit(actor=request.user, account=None, action=Event.SUPPORT_SEARCHED, query="store purchases without an account",
          found=len(panel["purchases"]))
    return render(request, "stores/unlinked.html", {"panel": panel})


def _is_verified(user) -> bool:
    """True once the user's TOTP device verified a code in this session (django-otp's
    OTPMiddleware puts `is_verified` on the user)."""
    check = getattr(user, "is_verified", None)
    return bool(check and check())
