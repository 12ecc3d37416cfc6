from django import template

from chapters.access import can_anywhere
from mailings import capabilities

register = template.Library()


@register.simple_tag(takes_context=True)
def mailings_in_menu(context):
    """Whether the main menu shows mailings: to people who may send them somewhere."""
    user = context.get("user")
    return user is not None and user.is_authenticated and can_anywhere(user, capabilities.SEND)
