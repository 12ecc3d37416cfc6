"""Every write on the campaign site outside Wagtail's own editor: the starter site, the site's
identity at provisioning, and what visitors send through the calls to action."""

import secrets

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from wagtail.models import Locale, Page, Site

from chapters import services as chapter_services
from chapters.models import Chapter, Membership
from cms import cache
from cms.models import (
    ChapterIndexPage,
    HomePage,
    JoinPage,
    NewsIndexPage,
    OrganisationSettings,
    Signup,
    StandardPage,
)
from cms.selectors import chapters_near
from people import services as people_services
from people.models import Activity, Source

# The starter site, in each content language: what a new organisation shows before anyone edits it.
STARTER = {
    "fr": {
        "home": ("Accueil", "Ensemble, on s'organise.", "Rejoignez un groupe près de chez vous."),
        "news": ("Actualités", "actualites", "Les nouvelles de la campagne."),
        "chapters": ("Nos groupes", "groupes", "Trouvez le groupe local le plus proche de chez vous."),
        "join": (
            "Nous rejoindre",
            "nous-rejoindre",
            "Laissez-nous vos coordonnées : nous vous mettons en lien avec le groupe le plus proche.",
            "Merci ! Un courriel vient de vous être envoyé : cliquez sur le lien qu'il contient pour confirmer.",
        ),
        "privacy": (
            "Données personnelles",
            "donnees-personnelles",
            "Vos données ne servent qu'à vous mettre en lien avec l'organisation ; vous pouvez en demander "
            "la copie ou l'effacement à tout moment.",
        ),
    },
    "en": {
        "home": ("Home", "Together, we organise.", "Join a group near you."),
        "news": ("News", "news", "News from the campaign."),
        "chapters": ("Our groups", "groups", "Find the local group nearest to you."),
        "join": (
            "Join us",
            "join-us",
            "Leave us your details: we will put you in touch with the nearest group.",
            "Thank you! We have just sent you an email: follow the link in it to confirm.",
        ),
        "privacy": (
            "Personal data",
            "personal-data",
            "Your data is only used to put you in touch with the organisation; you may ask for a copy or "
            "for its erasure at any time.",
        ),
    },
}


def _locales():
    default = Locale.get_default()
    others = []
    for code, _name in settings.WAGTAIL_CONTENT_LANGUAGES:
        locale, _created = Locale.objects.get_or_create(language_code=code)
        if locale.pk != default.pk:
            others.append(locale)
    return default, others


def _starter_pages(home, texts, source=None):
    """The home page's children in one language; `source` maps each kind to its page in the
    default language, whose translation key they share."""
    key = (lambda kind: {"translation_key": source[kind].translation_key}) if source else (lambda kind: {})
    title, slug, intro = texts["news"]
    news = home.add_child(
        instance=NewsIndexPage(title=title, slug=slug, intro=intro, show_in_menus=True, **key("news"))
    )
    title, slug, intro = texts["chapters"]
    chapters = home.add_child(
        instance=ChapterIndexPage(title=title, slug=slug, intro=intro, show_in_menus=True, **key("chapters"))
    )
    title, slug, intro, thanks = texts["join"]
    join = home.add_child(
        instance=JoinPage(title=title, slug=slug, intro=intro, thank_you_text=thanks, show_in_menus=True, **key("join"))
    )
    title, slug, intro = texts["privacy"]
    privacy = home.add_child(instance=StandardPage(title=title, slug=slug, intro=intro, **key("privacy")))
    return {"news": news, "chapters": chapters, "join": join, "privacy": privacy}


def _texts(locale):
    return STARTER.get(locale.language_code, STARTER["en"])


@transaction.atomic
def starter_site_ensure():
    """Give the current schema a working site if it has none: a home page with a news index, a
    chapter index, a "join us" page and a privacy page, in every content language, and the Site
    that serves it on any of the organisation's domains. Run after every migration of a tenant
    schema (the template included, so that clones have it). Returns True if it created it."""
    if HomePage.objects.exists():
        return False
    default, others = _locales()
    root = Page.get_first_root_node()
    if root.locale_id != default.pk:
        Page.objects.filter(pk=root.pk).update(locale=default)
        root.refresh_from_db()
    # Wagtail's "Welcome to your new Wagtail site!" page (and the Site on it) make way.
    old_site = Site.objects.filter(is_default_site=True).first()
    hostname, port = (old_site.hostname, old_site.port) if old_site else ("localhost", 80)
    for page in root.get_children():
        page.delete()
    texts = _texts(default)
    home = root.add_child(
        instance=HomePage(
            title=texts["home"][0], slug="home", hero_title=texts["home"][1], hero_text=texts["home"][2], locale=default
        )
    )
    source = _starter_pages(home, texts)
    home.hero_link_label, home.hero_link = source["join"].title, source["join"]
    home.save()
    for locale in others:
        texts = _texts(locale)
        translated = root.add_child(
            instance=HomePage(
                title=texts["home"][0],
                slug=f"home-{locale.language_code}",
                hero_title=texts["home"][1],
                hero_text=texts["home"][2],
                locale=locale,
                translation_key=home.translation_key,
            )
        )
        pages = _starter_pages(translated, texts, source)
        translated.hero_link_label, translated.hero_link = pages["join"].title, pages["join"]
        translated.save()
    site = Site.objects.create(hostname=hostname, port=port, root_page=home, is_default_site=True, site_name="Relais")
    OrganisationSettings.objects.create(site=site, privacy_page=source["privacy"])
    return True


def site_setup(*, name, hostname):
    """At provisioning: the organisation's name and its primary domain on its site."""
    site = Site.objects.get(is_default_site=True)
    site.site_name = name
    site.hostname = hostname
    site.port = int(settings.PLATFORM_PORT or (443 if settings.PLATFORM_SCHEME == "https" else 80))
    site.save()
    from cms.permissions import sync_everyone

    sync_everyone()  # the founder, national organiser, edits the whole site
    cache.purge()
    return site


def on_organisation_provisioned(sender, organisation, hostname, **kwargs):
    """tenancy.signals.organisation_provisioned: inside the new schema, in provisioning's transaction."""
    site_setup(name=organisation.name, hostname=hostname)


# Visitors' sign-ups -------------------------------------------------------------------------


class SignupError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


def signup_chapter(*, postcode, chapter_id):
    """The chapter a join request goes to: the one chosen, else the closest one open to
    requests, else the national chapter."""
    if chapter_id:
        chapter = Chapter.objects.filter(pk=chapter_id, archived__isnull=True).first()
        if chapter is None or chapter.joining == Chapter.Joining.CLOSED:
            raise SignupError(_("This chapter does not take new members through the website."))
        return chapter
    nearby = chapters_near(postcode, joinable=True)
    return nearby[0] if nearby else Chapter.objects.get(depth=1)


def signup_submit(*, kind, page, email, full_name, postcode="", chapter_id=None, build_url):
    """Record a join request or a signature and mail the confirmation link. Nothing else happens
    until the link is followed. build_url(token) gives the absolute confirmation link."""
    email = get_user_model().objects.normalize_email(email).strip()
    chapter = signup_chapter(postcode=postcode, chapter_id=chapter_id) if kind == Signup.Kind.JOIN else None
    if (
        kind == Signup.Kind.PETITION
        and Signup.objects.filter(kind=kind, page=page, email__iexact=email, confirmed__isnull=False).exists()
    ):
        raise SignupError(_("This address has already signed."))
    signup = Signup.objects.create(
        kind=kind,
        page=page,
        email=email,
        full_name=full_name.strip(),
        postcode=postcode.strip(),
        chapter=chapter,
        language=translation.get_language() or settings.LANGUAGE_CODE,
        token=secrets.token_urlsafe(32),
    )
    from cms.tasks import confirmation_mail

    confirmation_mail.enqueue_on_commit(signup.pk, build_url(signup.token))
    return signup


def signup_confirm(*, signup):
    """Follow the confirmation link: a signature counts; a join request becomes a membership
    request (someone with an account), or an invitation to create one (a newcomer), in the chapter
    found at submission. Following the link twice changes nothing."""
    with transaction.atomic():
        signup = Signup.objects.select_for_update().get(pk=signup.pk)
        if signup.confirmed is not None:
            return signup, None
        signup.confirmed = timezone.now()
        invitation = None
        if signup.kind == Signup.Kind.PETITION:
            signup.outcome = Signup.Outcome.SIGNED
            try:
                with transaction.atomic():
                    signup.save(update_fields=["confirmed", "outcome"])
            except IntegrityError:  # two pending signatures from one address: the first one counts
                return signup, None
            _push_count(signup.page_id)
            _signer_recorded(signup)
            return signup, None
        invitation = _join(signup)
        signup.save(update_fields=["confirmed", "outcome"])
        _signer_recorded(signup)
    return signup, invitation


def _signer_recorded(signup):
    """A confirmed address: the person enters (or is found in) the supporter base, with the signature
    or join request on their timeline."""
    petition = signup.kind == Signup.Kind.PETITION
    title = signup.page.title if signup.page else ""
    people_services.person_record(
        source=Source.PETITION if petition else Source.JOIN_FORM,
        source_detail=title,
        email=signup.email,
        full_name=signup.full_name,
        postcode=signup.postcode,
        language=signup.language,
        chapter=signup.chapter,
        activity=(
            Activity.Kind.SIGNATURE if petition else Activity.Kind.SIGNUP,
            title or signup.get_kind_display(),
            signup.page,
        ),
    )


def form_submitted(*, page, form, submission):
    """A form built in /cms/ was sent: whoever left an address or a number is in the supporter base,
    with the form on their timeline. A submission that names nobody is kept as Wagtail keeps it."""
    values = {field.clean_name: field.field_type for field in page.get_form_fields()}
    data = form.cleaned_data
    email = next((str(data[name]) for name, kind in values.items() if kind == "email" and data.get(name)), "")
    name = next((str(data[key]) for key in ("name", "nom", "full_name", "your_name") if data.get(key)), "")
    phone = next((str(data[key]) for key in ("phone", "telephone", "mobile") if data.get(key)), "")
    if not email and not phone:
        return None
    try:
        person, _created = people_services.person_record(
            source=Source.WEBSITE_FORM,
            source_detail=page.title,
            email=email,
            phone=phone,
            full_name=name,
            postcode=str(data.get("postcode") or data.get("code_postal") or ""),
            language=translation.get_language() or "",
            activity=(Activity.Kind.FORM, page.title, page),
        )
    except chapter_services.InvalidAction:  # a number Wagtail's text field let through: the submission stays
        return None
    return person


def _join(signup):
    from accounts.models import Invitation
    from chapters.models import ChapterInvitation

    user = get_user_model().objects.filter(email__iexact=signup.email, is_active=True).first()
    chapter = signup.chapter or Chapter.objects.get(depth=1)
    if chapter.is_archived or chapter.joining == Chapter.Joining.CLOSED:
        chapter = Chapter.objects.get(depth=1)
    if user is not None:
        if Membership.objects.filter(user=user, chapter=chapter, status__in=Membership.CURRENT).exists():
            signup.outcome = Signup.Outcome.ALREADY_MEMBER
            return None
        chapter_services.membership_request(user=user, chapter=chapter)
        signup.outcome = Signup.Outcome.MEMBERSHIP_REQUESTED
        return None
    # A newcomer has just proved the address is theirs: the invitation is theirs to accept now.
    Invitation.objects.filter(email__iexact=signup.email, accepted__isnull=True).delete()
    invitation = Invitation.objects.create(
        email=signup.email, invited_by=None, expires=timezone.now() + timezone.timedelta(days=14)
    )
    ChapterInvitation.objects.create(invitation=invitation, chapter=chapter)
    chapter_services.audit(actor=None, action="invitation.from_website", chapter=chapter, email=signup.email)
    signup.outcome = Signup.Outcome.INVITED
    return invitation


def signature_count(page_id):
    return Signup.objects.filter(page_id=page_id, kind=Signup.Kind.PETITION, confirmed__isnull=False).count()


def counter_group(schema_name, page_id):
    return f"{schema_name}.petition.{page_id}"


def _push_count(page_id):
    group = counter_group(connection.schema_name, page_id)
    count = signature_count(page_id)
    layer = get_channel_layer()
    transaction.on_commit(lambda: async_to_sync(layer.group_send)(group, {"type": "counter.update", "count": count}))


# Personal data ------------------------------------------------------------------------------


def personal_data(user):
    return [
        {
            "kind": signup.kind,
            "page": signup.page.title if signup.page else "",
            "sent": signup.created.isoformat(),
            "confirmed": signup.confirmed.isoformat() if signup.confirmed else None,
            "postcode": signup.postcode,
        }
        for signup in Signup.objects.filter(email__iexact=user.email).select_related("page")
    ]


def personal_data_erase(user):
    """Erasure keeps the signature counted but forgets who signed."""
    Signup.objects.filter(email__iexact=getattr(user, "former_email", user.email)).update(
        email=Concat(Value("erased-"), Cast("pk", CharField()), Value("@erased.invalid")), full_name="", postcode=""
    )


# The rights page of the supporter base (people.signals) --------------------------------------


def _sent_from(emails):
    addresses = Q()
    for email in emails:
        addresses |= Q(email__iexact=email)
    return Signup.objects.filter(addresses) if addresses else Signup.objects.none()


def signups_of(*, emails):
    """The sign-ups sent from these addresses, JSON-ready, for the download of the rights page."""
    return [
        {
            "kind": signup.kind,
            "page": signup.page.title if signup.page else "",
            "name": signup.full_name,
            "postcode": signup.postcode,
            "sent": signup.created.isoformat(),
            "confirmed": signup.confirmed.isoformat() if signup.confirmed else None,
        }
        for signup in _sent_from(emails).select_related("page").order_by("created", "pk")
    ]


def signups_erase(*, emails):
    """Forget who sent these sign-ups: a confirmed one stays (the signature still counts, the join
    request still happened) without its address, name or postcode; an unconfirmed one goes, so
    that its link can no longer bring the address back. Returns how many were touched."""
    with transaction.atomic():
        removed, _by_model = _sent_from(emails).filter(confirmed__isnull=True).delete()
        anonymised = (
            _sent_from(emails)
            .filter(confirmed__isnull=False)
            .update(
                email=Concat(Value("erased-"), Cast("pk", CharField()), Value("@erased.invalid")),
                full_name="",
                postcode="",
            )
        )
    return removed + anonymised


def signups_purge(*, older_than):
    """Delete the sign-ups nobody confirmed within `older_than` (a timedelta): an address that was
    never proved to be the sender's is not kept. Returns how many went."""
    deleted, _by_model = Signup.objects.filter(confirmed__isnull=True, created__lt=timezone.now() - older_than).delete()
    return deleted


def on_address_data_requested(sender, emails, **kwargs):
    """people.signals.address_data_requested: what the site holds under these addresses."""
    return {"website": signups_of(emails=emails)}


def on_person_erased(sender, person, emails, **kwargs):
    """people.signals.person_erased: in the erasure's transaction."""
    signups_erase(emails=emails)
