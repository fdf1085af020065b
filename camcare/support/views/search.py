"""The console's first page: find an account by e-mail, Order ID or error reference."""

from __future__ import annotations

from django.shortcuts import render

from camcare.audit.events import Event, audit
from camcare.support.access import console_page
from camcare.support.lookup import find_accounts


@console_page
def search(request):
    query = request.GET.get("q", "")
    found = find_accounts(query)
    if query.strip():  # every look is audited, on the account when it names one
        audit(actor=request.user, account=found.accounts[0] if len(found.accounts) == 1 else None,
              action=Event.SUPPORT_SEARCHED, query=query[:200].replace("\x00", "\ufffd"), found=len(found.accounts))
    return render(request, "support/search.html", {
        "query": query, "accounts": found.accounts, "report": found.report, "order": found.order,
    })
