"""The demo organisation's shop: leaflets, posters, stickers and goodies, national stock, a
logistics manager, chapter orders in each state and a few public orders. Product pictures are
drawn here (no download)."""

import datetime
import io

from allauth.account.models import EmailAddress
from django.core.files.images import ImageFile
from django.utils import timezone
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont
from wagtail.images.models import Image

from accounts.models import User
from chapters.models import Chapter, Role, RoleAssignment
from shop import services
from shop.models import Product, ProductPhoto, PublicOrder

# (name, slug, kind, price in cents, pack size, public, chapters order it, max per order, variants, stock, colours)
CATALOGUE = [
    ("Tract « Climat, on agit »", "tract-climat", "leaflet", 1500, 500, False, True, 20, [("", "")], 200, "#2a9d8f"),
    ("Affiche A2 « Rejoins-nous »", "affiche-a2", "poster", 900, 10, False, True, 10, [("", "")], 60, "#b3261e"),
    ("Autocollants", "autocollants", "sticker", 1200, 100, True, True, 10, [("", "")], 80, "#6a4c93"),
    ("T-shirt", "t-shirt", "goodie", 1800, 1, True, True, 30, [("S", ""), ("M", ""), ("L", "")], 40, "#1d3557"),
    ("Tote bag", "tote-bag", "goodie", 1200, 1, True, False, None, [("", "")], 60, "#e76f51"),
    ("Badge", "badge", "goodie", 300, 1, True, True, 100, [("", "")], 200, "#f4a261"),
]


def picture(name, colour, seed):
    """A square product shot: the product's name on its colour, with a stripe."""
    size = 800
    drawing = PILImage.new("RGB", (size, size), colour)
    draw = ImageDraw.Draw(drawing)
    draw.rectangle((0, size * 0.7, size, size * 0.7 + 24), fill="#ffffff")
    draw.ellipse((size * 0.3, size * 0.15, size * 0.7, size * 0.55), outline="#ffffff", width=18)
    font = ImageFont.load_default(size=56)
    draw.text((40, size * 0.76), name, fill="#ffffff", font=font)
    buffer = io.BytesIO()
    drawing.save(buffer, "JPEG", quality=85)
    return ImageFile(buffer, name=f"shop-demo-{seed}.jpg")


def logistics_manager(email, password, organiser):
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=password, full_name="Léa Moreau")
    national = Chapter.objects.get(depth=1)
    role = Role.objects.get(name="Logistics manager")
    RoleAssignment.objects.get_or_create(user=user, role=role, chapter=national, defaults={"granted_by": organiser})
    EmailAddress.objects.update_or_create(user=user, email=email, defaults={"primary": True, "verified": True})
    return user


def seed(organiser, *, logistics, coordinator):
    warehouse = services.warehouse()
    variants = {}
    for index, (name, slug, kind, price, pack, public, orderable, most, options, stock, colour) in enumerate(CATALOGUE):
        product = services.product_save(
            actor=organiser,
            product=Product(
                name=name,
                slug=slug,
                kind=kind,
                price=price,
                pack_size=pack,
                public=public,
                chapter_orderable=orderable,
                max_per_chapter_order=most,
                description=DESCRIPTIONS.get(kind, ""),
            ),
            variants=options,
        )
        image = Image.objects.create(title=name, file=picture(name, colour, index))
        ProductPhoto.objects.create(product=product, image=image)
        for variant in product.variants.all():
            services.stock_receive(
                actor=logistics, variant=variant, location=warehouse, quantity=stock, reason="Livraison imprimeur"
            )
            variants[(slug, variant.size)] = variant

    chapters = {chapter.slug: chapter for chapter in Chapter.objects.filter(depth__gt=1)}
    lille = chapters["lille"]
    year = timezone.localdate().year
    services.allowance_save(
        actor=logistics,
        chapter=lille,
        starts=datetime.date(year, 1, 1),
        ends=datetime.date(year, 12, 31),
        budget=60000,
    )
    leaflets, posters, badges = variants[("tract-climat", "")], variants[("affiche-a2", "")], variants[("badge", "")]

    def order(slug, lines, note=""):
        return services.chapter_order_request(actor=organiser, chapter=chapters[slug], lines=lines, note=note)

    order("lille", [(leaflets, 4), (posters, 2)], note="Pour la marche du 12.")
    services.chapter_order_approve(actor=logistics, order=order("roubaix", [(leaflets, 2)]))
    prepared = order("amiens", [(posters, 3), (badges, 50)])
    services.chapter_order_approve(actor=logistics, order=prepared)
    services.chapter_order_prepare(actor=logistics, order=prepared)
    shipped = order("rennes", [(leaflets, 6)])
    for step in (services.chapter_order_approve, services.chapter_order_prepare):
        step(actor=logistics, order=shipped)
    services.chapter_order_ship(actor=logistics, order=shipped, carrier="Colissimo", tracking_reference="6A12345678901")
    received = order("lille", [(badges, 40)])
    for step in (services.chapter_order_approve, services.chapter_order_prepare):
        step(actor=logistics, order=received)
    services.chapter_order_ship(actor=logistics, order=received, carrier="Remise en main propre")
    services.chapter_order_receive(actor=coordinator or organiser, order=received)
    refused = order("brest", [(posters, 8)])
    services.chapter_order_refuse(actor=logistics, order=refused, reason="Stock réservé à la campagne nationale.")

    shirt = variants[("t-shirt", "M")]
    first = services.public_order_place(
        lines=[(shirt, 2), (badges, 3)],
        full_name="Camille Durand",
        email="camille.durand@example.org",
        payment=PublicOrder.Payment.COLLECT,
        collect_chapter=lille,
        language="fr",
    )
    services.public_order_place(
        lines=[(variants[("tote-bag", "")], 1)],
        full_name="Jules Bernard",
        email="jules.bernard@example.org",
        payment=PublicOrder.Payment.COLLECT,
        collect_chapter=chapters["rennes"],
        language="fr",
    )
    collected = services.public_order_place(
        lines=[(variants[("t-shirt", "L")], 1)],
        full_name="Sam Leroy",
        email="sam.leroy@example.org",
        payment=PublicOrder.Payment.COLLECT,
        collect_chapter=lille,
        language="en",
    )
    services.public_order_fulfil(actor=logistics, order=collected)
    return first


DESCRIPTIONS = {
    "leaflet": "Recto verso, A5, papier recyclé. Vendu par paquets de 500.",
    "poster": "Affiche A2 couleur, papier 135 g. Vendue par lots de 10.",
    "sticker": "Autocollants ronds de 8 cm, résistants à la pluie. Par planches de 100.",
    "goodie": "Coton bio, fabriqué en Europe. Chaque achat finance la campagne.",
}
