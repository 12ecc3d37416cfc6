from django import template

from chapters.access import can_anywhere
from people import capabilities

register = template.Library()


@register.simple_tag(takes_context=True)
def people_in_menu(context):
    """Whether the main menu shows the supporter base: to people who may see it somewhere."""
    user = context.get("user")
    return user is not None and user.is_authenticated and can_anywhere(user, capabilities.VIEW)
