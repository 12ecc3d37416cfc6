"""The demo organisation's campaign site: a campaign with a petition, news with pictures, the
chapters' coming events (events.demo seeds them), in French and English. The pictures are drawn
here (no download, nothing shipped)."""

import datetime
import io
import random

from django.core.files.images import ImageFile
from django.utils import timezone
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont
from wagtail.images.models import Image
from wagtail.models import Locale

from cms.models import (
    ArticlePage,
    CampaignPage,
    HomePage,
    NewsIndexPage,
    OrganisationSettings,
    Signup,
)

PALETTE = [("#b3261e", "#f4a261"), ("#1d3557", "#a8dadc"), ("#2a9d8f", "#e9c46a"), ("#6a4c93", "#ffca3a")]

ARTICLES = [
    (
        ("La marche pour le climat a réuni 4 000 personnes", "The climate march brought 4,000 people together"),
        (
            "De Lille à Toulouse, nos groupes étaient dans la rue samedi.",
            "From Lille to Toulouse, our groups marched on Saturday.",
        ),
        ["climat", "mobilisation"],
        "Marche",
    ),
    (
        ("Logement : notre contre-proposition", "Housing: our counter-proposal"),
        (
            "Dix mesures pour des loyers justes, écrites avec les locataires.",
            "Ten measures for fair rents, written with tenants.",
        ),
        ["logement"],
        "Logement",
    ),
    (
        ("Formation : animer une réunion publique", "Training: running a public meeting"),
        (
            "Une journée pour apprendre à accueillir, écouter et décider ensemble.",
            "A day to learn to welcome, listen and decide together.",
        ),
        ["formation"],
        "Formation",
    ),
    (
        ("Nos groupes locaux ont désormais leur page", "Our local groups now have their own page"),
        ("Chaque groupe présente ses actions et ses rendez-vous.", "Each group presents its actions and meetings."),
        ["vie-interne"],
        "Groupes",
    ),
]


def poster(title, colours, size=(1600, 900), seed=0):
    """A flat campaign poster: a two-colour background, a few shapes, the title."""
    rng = random.Random(seed)  # noqa: S311 - drawing, not security
    background, accent = colours
    picture = PILImage.new("RGB", size, background)
    draw = ImageDraw.Draw(picture)
    width, height = size
    for _ in range(6):
        radius = rng.randint(height // 8, height // 2)
        x, y = rng.randint(0, width), rng.randint(0, height)
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), outline=accent, width=rng.randint(8, 24))
    draw.rectangle((0, height * 0.62, width, height * 0.62 + 12), fill=accent)
    font = ImageFont.load_default(size=height // 9)
    draw.text((width * 0.06, height * 0.68), title, fill="#ffffff", font=font)
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=82)
    return buffer


def image(title, colours, seed, size=(1600, 900)):
    existing = Image.objects.filter(title=title).first()
    if existing:
        return existing
    return Image.objects.create(
        title=title, file=ImageFile(poster(title, colours, size, seed), name=f"demo-{seed}.jpg")
    )


def _translate(page, locale, **fields):
    translated = page.copy_for_translation(locale)
    for name, value in fields.items():
        setattr(translated, name, value)
    translated.save_revision().publish()
    return translated


def seed(organiser):
    """Fill the starter site once (it does nothing if the demo has articles already)."""
    if ArticlePage.objects.exists():
        return
    french, english = Locale.objects.get(language_code="fr"), Locale.objects.get(language_code="en")
    home = HomePage.objects.get(locale=french)
    hero = image("Le printemps des luttes", PALETTE[0], 1)
    settings = OrganisationSettings.for_site(home.get_site())
    settings.logo = image("Logo", ("#b3261e", "#ffffff"), 9, size=(360, 120))
    settings.tagline = "Le mouvement qui s'organise, partout en France."
    settings.footer_text = "Le Mouvement Démo — 12 rue de la Solidarité, 75011 Paris."
    settings.legal_notice = "<p>Directrice de la publication : Camille Organisatrice. Hébergement : Relais.</p>"
    settings.mastodon = "https://mastodon.example/@demo"
    settings.instagram = "https://instagram.example/demo"
    settings.save()

    campaign = CampaignPage(
        title="Des loyers justes, maintenant",
        slug="loyers-justes",
        intro="Nous demandons l'encadrement des loyers dans toutes les villes où le logement est rare.",
        image=image("Loyers justes", PALETTE[1], 2),
        body=[
            ("heading", {"text": "Pourquoi cette pétition", "level": "h2"}),
            ("paragraph", "<p>Un ménage sur cinq consacre plus de 40 % de ses revenus à son loyer.</p>"),
            (
                "petition",
                {"heading": "Signez la pétition", "text": "Objectif : 500 signatures avant l'été.", "goal": 500},
            ),
            ("chapters_near", {"heading": "Trouvez un groupe près de chez vous", "text": ""}),
            (
                "shop_link",
                {
                    "heading": "Affiches et tracts",
                    "text": "Commandez le matériel de campagne.",
                    "label": "Voir la boutique",
                },
            ),
        ],
        show_in_menus=True,
    )
    home.add_child(instance=campaign)
    campaign.save_revision(user=organiser).publish(user=organiser)
    _translate(
        campaign,
        english,
        title="Fair rents, now",
        slug="fair-rents",
        intro="We call for rent control in every city where housing is scarce.",
    )
    home.hero_title = "Le printemps des luttes"
    home.hero_text = "Pétitions, marches, formations : rejoignez un groupe près de chez vous et agissons ensemble."
    home.hero_image = hero
    home.hero_link, home.hero_link_label = campaign, "Signer la pétition"
    home.body = [
        ("chapter_events", {"heading": "Prochains rendez-vous des groupes", "count": 4}),
        (
            "join_form",
            {"heading": "Rejoignez-nous", "text": "Nous vous mettons en lien avec le groupe le plus proche."},
        ),
        ("quote", {"text": "Seul on va plus vite, ensemble on va plus loin.", "attribution": "Proverbe"}),
    ]
    home.save_revision(user=organiser).publish(user=organiser)
    english_home = HomePage.objects.get(locale=english)
    english_home.hero_title = "Spring of struggles"
    english_home.hero_text = "Petitions, marches, training: join a group near you and let's act together."
    english_home.hero_image = hero
    english_home.body = [
        ("chapter_events", {"heading": "Coming up in the groups", "count": 4}),
        ("join_form", {"heading": "Join us", "text": "We will put you in touch with the nearest group."}),
    ]
    english_home.save_revision(user=organiser).publish(user=organiser)

    news = NewsIndexPage.objects.get(locale=french)
    today = timezone.localdate()
    for number, ((title, title_en), (intro, intro_en), tags, picture) in enumerate(ARTICLES):
        article = ArticlePage(
            title=title,
            slug=f"article-{number + 1}",
            author="Camille Organisatrice",
            date=today - datetime.timedelta(days=3 + 9 * number),
            intro=intro,
            image=image(picture, PALETTE[number % len(PALETTE)], 10 + number),
            body=[("paragraph", f"<p>{intro}</p><p>Retrouvez toutes nos actions sur la page de votre groupe.</p>")],
        )
        news.add_child(instance=article)
        article.tags.add(*tags)
        article.save_revision(user=organiser).publish(user=organiser)
        _translate(article, english, title=title_en, intro=intro_en)

    now = timezone.now()
    Signup.objects.bulk_create(
        Signup(kind="petition", page=campaign, email=f"signataire{n}@demo.localhost", full_name=f"Signataire {n}",
               token=f"demo-signature-{n}", confirmed=now, outcome="signed")
        for n in range(137)
    )  # fmt: skip
