"""Every screen exists in French and English."""

import gettext
import re
from pathlib import Path

from django.test import Client

PO = Path(__file__).resolve().parent.parent / "locale" / "fr" / "LC_MESSAGES" / "django.po"


def po_entries():
    text = PO.read_text()
    for block in text.split("\n\n")[1:]:
        if not block.strip() or block.lstrip().startswith("#~"):
            continue
        msgid = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', re.search(r"^msgid ((?:\".*\"\n)+)", block, re.M).group(1)))
        singular = re.search(r"^msgstr (\".*\"(?:\n\".*\")*)", block, re.M)
        msgstr = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', singular.group(1))) if singular else None
        yield msgid, msgstr, block


def test_every_french_message_is_translated_and_compiled():
    catalogue = gettext.GNUTranslations(PO.with_suffix(".mo").open("rb"))
    for msgid, msgstr, block in po_entries():
        assert "#, fuzzy" not in block, msgid
        if msgstr is None:  # plural entry: each form, joined over its lines, says something
            forms = re.findall(r'^msgstr\[\d\] ((?:".*"\n?)+)', block, re.M)
            assert len(forms) == 2, msgid
            assert all("".join(re.findall(r'"((?:[^"\\]|\\.)*)"', form)) for form in forms), msgid
            continue
        assert msgstr, f"untranslated: {msgid}"
        decoded = msgid.encode().decode("unicode_escape").encode("latin-1").decode()
        expected = msgstr.encode().decode("unicode_escape").encode("latin-1").decode()
        context = re.search(r'^msgctxt "((?:[^"\\]|\\.)*)"', block, re.M)
        found = catalogue.pgettext(context.group(1), decoded) if context else catalogue.gettext(decoded)
        assert found == expected, f"django.mo is stale for: {msgid} (run make messages)"


def test_platform_site_speaks_french_to_a_french_browser(db):
    page = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9").get("/").content.decode()
    assert '<html lang="fr">' in page
    assert "Animez votre mouvement" in page
    assert "Créer votre organisation" in page


def test_language_switch_changes_the_language_and_returns_to_the_page(db):
    client = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="fr")
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/create/"})
    assert response["Location"] == "/create/"
    page = client.get("/create/").content.decode()
    assert '<html lang="en">' in page
    assert "Create your organisation" in page


def test_form_errors_are_translated(organisations, db):
    client = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="fr")
    page = client.post("/create/", {"name": "X", "slug": "admin"}).content.decode()
    assert "« admin » est réservé par la plateforme" in page
    assert "Champ requis." in page


def test_organisation_app_speaks_french(member):
    client = member.client()
    client.cookies["django_language"] = "fr"
    page = client.get("/app/").content.decode()
    assert "Bonjour Member" in page
    assert "Mon espace" in page
