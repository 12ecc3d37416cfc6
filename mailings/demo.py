"""Demo mailings: drafts that show the form, the audience count and the preview, one from the
organisation and one from the Lille coordinator, ready to send to the local fake provider."""

from chapters.models import Chapter
from mailings.models import Mailing

NATIONAL = [
    {"type": "text", "markdown": (
        'Bonjour {first_name|"à toutes et à tous"},\n\n'
        "Samedi, nous sommes partout dans le pays : **tractage, porte-à-porte et réunions publiques**. "
        "Chaque heure compte.\n\nRejoignez le groupe le plus proche de chez vous."
    )},
    {"type": "button", "label": "Je participe", "href": "https://demo.localhost/"},
    {"type": "divider"},
    {"type": "text", "markdown": "Merci pour votre engagement,\n\nL'équipe nationale"},
]  # fmt: skip
LOCAL = [
    {"type": "text", "markdown": (
        'Bonjour {first_name|""},\n\nRendez-vous **samedi à 10 h** place du Théâtre à {commune|"Lille"} '
        "pour distribuer les tracts du quartier. Café offert."
    )},
    {"type": "button", "label": "Je viens", "href": "https://demo.localhost/"},
]  # fmt: skip


def seed(organiser, coordinator):
    """Two drafts, once: what exists is left as it is."""
    if Mailing.objects.exists():
        return 0
    Mailing.objects.create(
        subject="Samedi, tous sur le terrain",
        preview_text="Tractage, porte-à-porte et réunions publiques dans tout le pays",
        language="fr",
        blocks=NATIONAL,
        created_by=organiser,
    )
    lille = Chapter.objects.filter(slug="lille").first()
    if lille is not None and coordinator is not None:
        Mailing.objects.create(
            chapter=lille,
            subject="Tractage samedi à Lille",
            preview_text="Rendez-vous place du Théâtre à 10 h",
            language="fr",
            blocks=LOCAL,
            created_by=coordinator,
        )
    return Mailing.objects.count()
