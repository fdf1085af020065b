"""The support console's page of store purchases that no account holds (README,
"App-store subscriptions"): those naming no known account, those kept beside another
subscription, and the notifications that did not verify. Staff only; a look is audited
like every look of the console."""

from django.http import Http404
from django.shortcuts import render

from camcare.audit.events import Event, audit
from camcare.stores import selectors


def unlinked(request):
    if not request.user.is_staff:  # the console's rule: anyone else gets the 404 of a missing page
        raise Http404
    panel = selectors.unlinked_panel()
    audit(actor=request.user, account=None, action=Event.SUPPORT_SEARCHED, query="store purchases without an account",
          found=len(panel["purchases"]))
    return render(request, "stores/unlinked.html", {"panel": panel})
