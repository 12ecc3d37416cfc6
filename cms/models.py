"""The campaign website's page types, its site settings and the people who sign up through it.

Pairs of index and detail pages with strict parent and subpage types: news index and article,
chapter index and chapter page (the latter created only by the chapters, see cms.sync). Every
page exists in French and English (Wagtail's own i18n), each public page is cached per
organisation (cms.cache) and each call to action posts to cms.views.
"""

import datetime

from django.core.paginator import Paginator
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from modelcluster.contrib.taggit import ClusterTaggableManager
from modelcluster.fields import ParentalKey
from taggit.models import TaggedItemBase
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel, MultiFieldPanel
from wagtail.contrib.forms.models import AbstractEmailForm, AbstractFormField
from wagtail.contrib.forms.panels import FormSubmissionsPanel
from wagtail.contrib.routable_page.models import RoutablePageMixin, path
from wagtail.contrib.settings.models import BaseSiteSetting, register_setting
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Page
from wagtail.search import index

from cms.blocks import BaseStreamBlock, CampaignStreamBlock

PER_PAGE = 12


def _image(name, label):
    return models.ForeignKey(
        "wagtailimages.Image", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=label
    )


class SitePage(Page):
    """What every page of the campaign site shares: whether its HTML may be cached for visitors."""

    # Pages with per-visitor content (a CSRF token, a form's errors) set this to False.
    cache_for_visitors = True

    class Meta:
        abstract = True

    def og_image(self):
        return getattr(self, "image", None) or getattr(self, "hero_image", None)


class HomePage(SitePage):
    hero_title = models.CharField(_("hero title"), max_length=200, blank=True)
    hero_text = models.TextField(_("hero text"), blank=True)
    hero_image = _image("hero_image", _("hero image"))
    hero_link_label = models.CharField(_("hero button label"), max_length=80, blank=True)
    hero_link = models.ForeignKey(
        "wagtailcore.Page",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("hero button page"),
    )
    body = StreamField(CampaignStreamBlock(), blank=True, verbose_name=_("body"))

    content_panels = Page.content_panels + [
        MultiFieldPanel(
            [
                FieldPanel("hero_title"),
                FieldPanel("hero_text"),
                FieldPanel("hero_image"),
                FieldRowPanel([FieldPanel("hero_link_label"), FieldPanel("hero_link")]),
            ],
            heading=_("Hero"),
        ),
        FieldPanel("body"),
    ]
    search_fields = Page.search_fields + [index.SearchField("hero_text"), index.SearchField("body")]
    parent_page_types = ["wagtailcore.Page"]
    subpage_types = [
        "cms.NewsIndexPage",
        "cms.ChapterIndexPage",
        "cms.CampaignPage",
        "cms.JoinPage",
        "cms.FormPage",
        "cms.StandardPage",
    ]

    class Meta:
        verbose_name = _("home page")
        verbose_name_plural = _("home pages")


class StandardPage(SitePage):
    """A plain page: who we are, legal notice, privacy policy."""

    intro = models.TextField(_("introduction"), blank=True)
    body = StreamField(BaseStreamBlock(), blank=True, verbose_name=_("body"))

    content_panels = Page.content_panels + [FieldPanel("intro"), FieldPanel("body")]
    search_fields = Page.search_fields + [index.SearchField("intro"), index.SearchField("body")]
    parent_page_types = ["cms.HomePage", "cms.StandardPage"]
    subpage_types = ["cms.StandardPage"]

    class Meta:
        verbose_name = _("standard page")
        verbose_name_plural = _("standard pages")


class NewsIndexPage(RoutablePageMixin, SitePage):
    intro = models.TextField(_("introduction"), blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro")]
    parent_page_types = ["cms.HomePage"]
    subpage_types = ["cms.ArticlePage"]
    max_count_per_parent = 1

    class Meta:
        verbose_name = _("news index")
        verbose_name_plural = _("news indexes")

    def articles(self):
        return ArticlePage.objects.live().public().descendant_of(self).prefetch_related("tags").order_by("-date", "-pk")

    @path("")
    def index(self, request):
        articles = self.articles()
        tag = request.GET.get("tag", "").replace("\x00", "")[:100]  # PostgreSQL compares no NUL (a DataError)
        if tag:
            articles = articles.filter(tags__name=tag)
        page = Paginator(articles, PER_PAGE).get_page(request.GET.get("page"))
        return self.render(request, context_overrides={"articles": page, "tag": tag})

    @path("feed/")
    def feed(self, request):
        from cms.feeds import NewsFeed

        return NewsFeed(self)(request)


class ArticlePageTag(TaggedItemBase):
    content_object = ParentalKey("cms.ArticlePage", related_name="tagged_items", on_delete=models.CASCADE)


class ArticlePage(SitePage):
    """A news article, or a chapter's announcement when it sits below a chapter page. Events
    are the events app's (the dates and places articles once carried moved there)."""

    author = models.CharField(_("author"), max_length=150, blank=True)
    date = models.DateField(_("date"), default=datetime.date.today)
    intro = models.TextField(_("introduction"), blank=True)
    image = _image("image", _("image"))
    body = StreamField(BaseStreamBlock(), blank=True, verbose_name=_("body"))
    tags = ClusterTaggableManager(through=ArticlePageTag, blank=True, verbose_name=_("tags"))

    content_panels = Page.content_panels + [
        FieldRowPanel([FieldPanel("author"), FieldPanel("date")]),
        FieldPanel("intro"),
        FieldPanel("image"),
        FieldPanel("body"),
        FieldPanel("tags"),
    ]
    search_fields = Page.search_fields + [
        index.SearchField("intro"),
        index.SearchField("body"),
        index.SearchField("author"),
        index.FilterField("date"),
    ]
    parent_page_types = ["cms.NewsIndexPage", "cms.ChapterPage"]
    subpage_types = []

    class Meta:
        verbose_name = _("article")
        verbose_name_plural = _("articles")

    def get_sitemap_urls(self, request=None):
        return [{**entry, "lastmod": self.last_published_at} for entry in super().get_sitemap_urls(request)]

    def news_index(self):
        return NewsIndexPage.objects.ancestor_of(self).first()


class CampaignPage(SitePage):
    intro = models.TextField(_("introduction"), blank=True)
    image = _image("image", _("image"))
    body = StreamField(CampaignStreamBlock(), blank=True, verbose_name=_("body"))

    content_panels = Page.content_panels + [FieldPanel("intro"), FieldPanel("image"), FieldPanel("body")]
    search_fields = Page.search_fields + [index.SearchField("intro"), index.SearchField("body")]
    parent_page_types = ["cms.HomePage"]
    subpage_types = []

    class Meta:
        verbose_name = _("campaign page")
        verbose_name_plural = _("campaign pages")


class ChapterIndexPage(SitePage):
    """Every chapter's page, and the chapters near a postcode (`?postcode=59000`)."""

    intro = models.TextField(_("introduction"), blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro")]
    parent_page_types = ["cms.HomePage"]
    subpage_types = ["cms.ChapterPage"]
    max_count_per_parent = 1

    class Meta:
        verbose_name = _("chapter index")
        verbose_name_plural = _("chapter indexes")

    def get_context(self, request, *args, **kwargs):
        from cms.selectors import chapter_pages_near

        context = super().get_context(request, *args, **kwargs)
        postcode = request.GET.get("postcode", "").strip()[:10]
        context["postcode"] = postcode
        if postcode:
            context["nearby"] = chapter_pages_near(self, postcode)
        context["chapter_pages"] = ChapterPage.objects.live().public().child_of(self).select_related("chapter")
        return context


class ChapterPage(SitePage):
    """A chapter's public page. Created, renamed, moved and unpublished by cms.sync when the
    chapter is; its coordinators write the introduction, the body and the announcements below."""

    # Every language version of the page (the source, its aliases, its translations) links the chapter.
    chapter = models.ForeignKey(
        "chapters.Chapter",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("chapter"),
    )
    intro = models.TextField(_("introduction"), blank=True)
    image = _image("image", _("image"))
    body = StreamField(BaseStreamBlock(), blank=True, verbose_name=_("body"))

    content_panels = Page.content_panels + [FieldPanel("intro"), FieldPanel("image"), FieldPanel("body")]
    search_fields = Page.search_fields + [index.SearchField("intro"), index.SearchField("body")]
    parent_page_types = ["cms.ChapterIndexPage", "cms.ChapterPage"]
    subpage_types = ["cms.ChapterPage", "cms.ArticlePage"]
    # Chapter pages follow the chapters: nobody adds one by hand.
    is_creatable = False

    class Meta:
        verbose_name = _("chapter page")
        verbose_name_plural = _("chapter pages")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["chapter"] = self.chapter
        context["announcements"] = ArticlePage.objects.live().public().child_of(self).order_by("-date", "-pk")[:10]
        context["subchapter_pages"] = ChapterPage.objects.live().public().child_of(self)
        return context


class JoinPage(SitePage):
    """ "Join us": the join form, which finds the chapter by postcode or lets the visitor choose."""

    intro = models.TextField(_("introduction"), blank=True)
    thank_you_text = models.TextField(
        _("text after sending"), blank=True, help_text=_("Shown after the form is sent, before the email is confirmed.")
    )

    content_panels = Page.content_panels + [FieldPanel("intro"), FieldPanel("thank_you_text")]
    parent_page_types = ["cms.HomePage"]
    subpage_types = []
    max_count_per_parent = 1

    class Meta:
        verbose_name = _("join page")
        verbose_name_plural = _("join pages")


class FormField(AbstractFormField):
    page = ParentalKey("cms.FormPage", on_delete=models.CASCADE, related_name="form_fields")


class FormPage(AbstractEmailForm):
    """A form built in /cms/ (a survey, a volunteer call), with its submissions exportable from
    the Forms menu. Protected by a honeypot and a rate limit (cms.spam)."""

    cache_for_visitors = False  # it carries a CSRF token

    intro = RichTextField(_("introduction"), blank=True)
    thank_you_text = RichTextField(_("text after sending"), blank=True)

    content_panels = AbstractEmailForm.content_panels + [
        FormSubmissionsPanel(),
        FieldPanel("intro"),
        InlinePanel("form_fields", label=_("Form fields")),
        FieldPanel("thank_you_text"),
        MultiFieldPanel(
            [
                FieldRowPanel([FieldPanel("from_address"), FieldPanel("to_address")]),
                FieldPanel("subject"),
            ],
            heading=_("Email"),
        ),
    ]
    parent_page_types = ["cms.HomePage"]
    subpage_types = []

    class Meta:
        verbose_name = _("form page")
        verbose_name_plural = _("form pages")

    def serve(self, request, *args, **kwargs):
        from cms import spam

        if request.method == "POST":
            refusal = spam.check(request, self)
            if refusal is not None:
                return refusal
        return super().serve(request, *args, **kwargs)

    def process_form_submission(self, form):
        from cms import services

        submission = super().process_form_submission(form)
        services.form_submitted(page=self, form=form, submission=submission)
        return submission

    def get_form(self, *args, **kwargs):
        from cms import spam

        return spam.with_honeypot(super().get_form(*args, **kwargs))


hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("A colour like #c8102e."))


@register_setting(icon="cog")
class OrganisationSettings(BaseSiteSetting):
    """How the organisation's site looks and what its footer says."""

    logo = _image("logo", _("logo"))
    primary_colour = models.CharField(_("main colour"), max_length=7, default="#b3261e", validators=[hex_colour])
    accent_colour = models.CharField(_("accent colour"), max_length=7, default="#1d3557", validators=[hex_colour])
    tagline = models.CharField(_("tagline"), max_length=200, blank=True)
    facebook = models.URLField(_("Facebook"), blank=True)
    instagram = models.URLField(_("Instagram"), blank=True)
    mastodon = models.URLField(_("Mastodon"), blank=True)
    bluesky = models.URLField(_("Bluesky"), blank=True)
    youtube = models.URLField(_("YouTube"), blank=True)
    footer_text = models.TextField(_("footer text"), blank=True)
    legal_notice = RichTextField(_("legal notice"), blank=True, features=["bold", "italic", "link"])
    privacy_page = models.ForeignKey(
        "wagtailcore.Page",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("privacy policy page"),
    )

    panels = [
        MultiFieldPanel(
            [
                FieldPanel("logo"),
                FieldPanel("tagline"),
                FieldRowPanel([FieldPanel("primary_colour"), FieldPanel("accent_colour")]),
            ],
            heading=_("Look"),
        ),
        MultiFieldPanel(
            [
                FieldPanel("facebook"),
                FieldPanel("instagram"),
                FieldPanel("mastodon"),
                FieldPanel("bluesky"),
                FieldPanel("youtube"),
            ],
            heading=_("Social networks"),
        ),
        MultiFieldPanel(
            [FieldPanel("footer_text"), FieldPanel("legal_notice"), FieldPanel("privacy_page")], heading=_("Footer")
        ),
    ]

    class Meta:
        verbose_name = _("site settings")

    def social_links(self):
        names = ["facebook", "instagram", "mastodon", "bluesky", "youtube"]
        return [(self._meta.get_field(name).verbose_name, getattr(self, name)) for name in names if getattr(self, name)]


class Signup(models.Model):
    """Someone who sent a join or petition form. Nothing happens until they confirm their address
    (double opt-in): then a petition signature counts, and a join request becomes a membership
    request (an existing member) or an invitation to create an account (a newcomer)."""

    class Kind(models.TextChoices):
        JOIN = "join", _("Join request")
        PETITION = "petition", _("Petition signature")

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Waiting for confirmation")
        SIGNED = "signed", _("Signed")
        MEMBERSHIP_REQUESTED = "membership_requested", _("Membership requested")
        INVITED = "invited", _("Invited to create an account")
        ALREADY_MEMBER = "already_member", _("Already a member")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    page = models.ForeignKey(
        "wagtailcore.Page", on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("page")
    )
    email = models.EmailField(_("email address"))
    full_name = models.CharField(_("name"), max_length=150)
    postcode = models.CharField(_("postcode"), max_length=10, blank=True)
    chapter = models.ForeignKey(
        "chapters.Chapter",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("chapter"),
    )
    language = models.CharField(_("language"), max_length=10, default="fr")
    token = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(_("sent"), default=timezone.now, db_index=True)
    confirmed = models.DateTimeField(_("confirmed"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=30, choices=Outcome.choices, default=Outcome.PENDING)

    class Meta:
        verbose_name = _("sign-up")
        verbose_name_plural = _("sign-ups")
        ordering = ["-created"]
        constraints = [
            # One confirmed signature per address and petition page: the counter counts people.
            models.UniqueConstraint(
                fields=["page", "email"],
                condition=models.Q(kind="petition", confirmed__isnull=False),
                name="cms_one_signature_per_person",
            )
        ]
        indexes = [models.Index(fields=["page", "kind", "confirmed"])]

    def __str__(self):
        return f"{self.full_name} <{self.email}>"
