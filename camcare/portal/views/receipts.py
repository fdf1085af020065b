"""A receipt per order: a page that prints cleanly, and the same as a PDF download."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from fpdf import FPDF

from camcare.accounts.time_zones import zone_of
from camcare.billing import selectors
from camcare.billing.models import Order, OrderKind
from camcare.display import format_money
from camcare.domain.order_ids import normalize_code
from camcare.portal.templatetags.money import format_datetime

KIND_TITLES = {OrderKind.CHARGE: "Payment receipt", OrderKind.REFUND: "Refund receipt", OrderKind.CREDIT: "Credit note"}


def _order_or_404(request, order_id: str) -> Order:
    """The signed-in account's order; another account's answers 404, like a missing one."""
    order = selectors.find_order(request.user, normalize_code(order_id))
    if order is None:
        raise Http404("no such order")
    return order


def zone_note(order: Order) -> str:
    """The line naming the zone of the receipt's times: the account's (POLICY.md section
    16), whoever renders it, so the PDF filed away says the same as the page."""
    return (f"Times are in {zone_of(order.account)} time. Questions: support@camcare.example, "
            "with your account e-mail and this Order ID.")


def receipt_lines(order: Order) -> list[tuple[str, str]]:
    """(label, value) rows of a receipt, shared by the page and the PDF; the date in the
    account's zone, named ("31 Mar 2027, 17:00 PDT")."""
    rows = [
        ("Order ID", order.order_id),
        ("Date", format_datetime(order.created_at, zone_of(order.account))),
        ("Account", order.account.email),
        ("For", order.description),
        ("Status", order.get_status_display()),
    ]
    if order.kind == OrderKind.CHARGE:
        rows.append(("Paid by card", format_money(order.amount, order.currency)))
        if order.credit_used:
            rows.append(("Paid from credit balance", format_money(order.credit_used, order.currency)))
        rows.append(("Total", format_money(order.amount + order.credit_used, order.currency)))
    elif order.kind == OrderKind.REFUND:
        rows.append(("Refunded to card", format_money(order.amount, order.currency)))
    else:
        rows.append(("Added to credit balance", format_money(order.amount, order.currency)))
    if order.card_brand:
        rows.append(("Card", f"{order.card_brand} ending in {order.card_last4}"))
    if order.refers_to_id:
        rows.append(("Refund of", order.refers_to.order_id))
    for refund in order.refunds.order_by("created_at", "id"):
        rows.append(("Refunded", f"{format_money(refund.amount, refund.currency)} ({refund.order_id}, {refund.get_status_display()})"))
    if order.failure_message:
        rows.append(("Reason", order.failure_message))
    return rows


@login_required
def receipt(request, order_id: str):
    order = _order_or_404(request, order_id)
    return render(request, "portal/billing/receipt.html", {
        "order": order, "title": KIND_TITLES[order.kind], "rows": receipt_lines(order), "note": zone_note(order),
    })


def _pdf_text(text: str) -> str:
    # The PDF's built-in fonts cover Latin-1 only; other symbols become "?" there, while
    # the page shows them (the PDF is a copy of the page for filing).
    return text.encode("latin-1", "replace").decode("latin-1")


def receipt_pdf_bytes(order: Order) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(f"camcare {KIND_TITLES[order.kind]} {order.order_id}")
    pdf.set_creator("camcare")
    pdf.add_page()
    pdf.set_font("helvetica", "B", 18)
    pdf.cell(0, 12, "camcare", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 14)
    pdf.cell(0, 10, _pdf_text(KIND_TITLES[order.kind]), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for label, value in receipt_lines(order):
        pdf.set_font("helvetica", "B", 11)
        pdf.cell(60, 8, _pdf_text(label))
        pdf.set_font("helvetica", "", 11)
        pdf.multi_cell(0, 8, _pdf_text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("helvetica", "", 9)
    pdf.multi_cell(0, 5, _pdf_text(zone_note(order)))
    return bytes(pdf.output())


@login_required
def receipt_pdf(request, order_id: str):
    order = _order_or_404(request, order_id)
    response = HttpResponse(receipt_pdf_bytes(order), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="camcare-{order.order_id}.pdf"'
    return response
