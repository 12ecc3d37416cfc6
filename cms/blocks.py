"""The block library every page's StreamField draws from (bakerydemo's base/blocks.py habit).

BaseStreamBlock holds the writing blocks; CampaignStreamBlock adds the calls to action that act:
join form, petition with its live counter, shop link, the chapters' upcoming events, and the
chapters near a postcode.
"""

from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.images.blocks import ImageBlock


class HeadingBlock(blocks.StructBlock):
    text = blocks.CharBlock(label=_("heading"), max_length=200)
    level = blocks.ChoiceBlock(label=_("level"), choices=[("h2", _("Section")), ("h3", _("Subsection"))], default="h2")

    class Meta:
        icon = "title"
        template = "cms/blocks/heading.html"


class QuoteBlock(blocks.StructBlock):
    text = blocks.TextBlock(label=_("quote"))
    attribution = blocks.CharBlock(label=_("who said it"), required=False, max_length=200)

    class Meta:
        icon = "openquote"
        template = "cms/blocks/quote.html"


class ButtonBlock(blocks.StructBlock):
    label = blocks.CharBlock(label=_("label"), max_length=80)
    page = blocks.PageChooserBlock(label=_("page"), required=False)
    url = blocks.URLBlock(label=_("or an address"), required=False)

    class Meta:
        icon = "link"
        template = "cms/blocks/button.html"


class CaptionedImageBlock(blocks.StructBlock):
    image = ImageBlock(label=_("image"))
    caption = blocks.CharBlock(label=_("caption"), required=False, max_length=250)

    class Meta:
        icon = "image"
        template = "cms/blocks/image.html"


class BaseStreamBlock(blocks.StreamBlock):
    heading = HeadingBlock()
    paragraph = blocks.RichTextBlock(
        label=_("paragraph"), features=["bold", "italic", "link", "ol", "ul", "h3", "document-link"]
    )
    image = CaptionedImageBlock(label=_("image"))
    quote = QuoteBlock(label=_("quote"))
    button = ButtonBlock(label=_("button"))


class JoinFormBlock(blocks.StructBlock):
    heading = blocks.CharBlock(label=_("heading"), max_length=200, default=_("Join us"))
    text = blocks.TextBlock(label=_("text"), required=False)

    class Meta:
        icon = "user"
        label = _("Join form")
        template = "cms/blocks/join_form.html"


class PetitionBlock(blocks.StructBlock):
    heading = blocks.CharBlock(label=_("heading"), max_length=200)
    text = blocks.TextBlock(label=_("text"), required=False)
    goal = blocks.IntegerBlock(label=_("signature goal"), min_value=1, default=1000)

    class Meta:
        icon = "form"
        label = _("Petition or sign-up form")
        template = "cms/blocks/petition.html"


class ShopLinkBlock(blocks.StructBlock):
    heading = blocks.CharBlock(label=_("heading"), max_length=200, default=_("Campaign material"))
    text = blocks.TextBlock(label=_("text"), required=False)
    label = blocks.CharBlock(label=_("button label"), max_length=80, default=_("Visit the shop"))

    class Meta:
        icon = "tag"
        label = _("Link to the shop")
        template = "cms/blocks/shop_link.html"


class ChapterEventsBlock(blocks.StructBlock):
    heading = blocks.CharBlock(label=_("heading"), max_length=200, default=_("Coming up in the chapters"))
    count = blocks.IntegerBlock(label=_("how many"), min_value=1, max_value=20, default=5)

    class Meta:
        icon = "date"
        label = _("Upcoming chapter announcements")
        template = "cms/blocks/chapter_events.html"


class ChaptersNearBlock(blocks.StructBlock):
    heading = blocks.CharBlock(label=_("heading"), max_length=200, default=_("Find a chapter near you"))
    text = blocks.TextBlock(label=_("text"), required=False)

    class Meta:
        icon = "site"
        label = _("Chapters near a postcode")
        template = "cms/blocks/chapters_near.html"


class CampaignStreamBlock(BaseStreamBlock):
    join_form = JoinFormBlock()
    petition = PetitionBlock()
    shop_link = ShopLinkBlock()
    chapter_events = ChapterEventsBlock()
    chapters_near = ChaptersNearBlock()
