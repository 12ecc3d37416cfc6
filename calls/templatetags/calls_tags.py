from django import template

from calls import access, capabilities
from chapters.access import can_anywhere

register = template.Library()


@register.simple_tag(takes_context=True)
def calls_in_menu(context):
    """Whether the main menu shows phone banks: to who organises one, or may call for an open one."""
    user = context.get("user")
    if user is None or not user.is_authenticated:
        return False
    if can_anywhere(user, capabilities.MANAGE):  # no query: the user's grants are read once per request
        return True
    return access.campaigns_for(user).exclude(status="draft").exists()
