"""Template helpers of the shop: money in integer cents, shown the way the reader's language
writes it."""

import datetime
from decimal import Decimal, InvalidOperation

from django import template
from django.utils import formats, translation
from django.utils.formats import number_format

from shop.selectors import Amount, Month, holds_any_shop_capability

register = template.Library()

SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$"}


@register.filter
def money(amount, currency="EUR"):
    """1250|money:"EUR" -> "12,50 €" in French, "€12.50" in English (a code for other currencies:
    "12,50 CHF", "CHF 12.50"). Anything that is not a whole number of cents shows as nothing."""
    if amount is None or amount == "" or isinstance(amount, bool | float):
        return ""
    try:
        value = Decimal(int(amount)) / 100
    except (TypeError, ValueError, InvalidOperation):
        return ""
    currency = str(currency or "").upper()
    symbol = SYMBOLS.get(currency, currency)
    number = number_format(abs(value), decimal_pos=2)
    sign = "-" if value < 0 else ""
    if (translation.get_language() or "").startswith("fr"):
        return f"{sign}{number} {symbol}".strip()
    if symbol == currency:  # a code, not a sign: "CHF 12.50"
        return f"{sign}{symbol} {number}".strip()
    return f"{sign}{symbol}{number}"


@register.filter
def report_cell(cell):
    """A cell of a shop report, as the page shows it (the CSV file has the raw value)."""
    if isinstance(cell, Amount):
        return money(cell.cents, cell.currency)
    if isinstance(cell, Month):
        return formats.date_format(datetime.date(cell.year, cell.month, 1), "YEAR_MONTH_FORMAT")
    if isinstance(cell, datetime.date):
        return formats.date_format(cell, "SHORT_DATE_FORMAT")
    return cell


@register.simple_tag(takes_context=True)
def shop_in_menu(context):
    """Whether the main menu shows the shop: to people who hold a shop capability somewhere."""
    user = context.get("user")
    return user is not None and holds_any_shop_capability(user)
