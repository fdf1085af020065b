"""Store subscriptions on pages:

  {% store_subscriptions user summary %}: the owner's, read-only, with the steps to change
      or cancel each in its store (stores/_owner_panel.html);
  {% store_support_panel owner %}: the support console's, every purchase with its
      transaction ids and every notification with its verification result
      (stores/_support_panel.html, also includable with `panel=selectors.support_panel(...)`).
"""

from django import template

from camcare.stores import selectors

register = template.Library()


@register.inclusion_tag("stores/_owner_panel.html")
def store_subscriptions(account, summary=None):
    return {"panel": selectors.owner_panel(account), "summary": summary or {}}


@register.inclusion_tag("stores/_support_panel.html")
def store_support_panel(account):
    return {"panel": selectors.support_panel(account)}
