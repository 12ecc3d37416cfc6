"""Every existing member gets their person record, and the default roles the people capabilities.

National organisers hold them all; chapter coordinators see and edit the people of their chapters.
What the migration writes is what people.services writes for a member who joins today: the
account's name and contacts, a link to each chapter of an active membership, the chapters whose
area covers their postcode, and their membership as the basis of their email consent."""

import phonenumbers
from django.db import migrations

ALL = ["people.view", "people.edit", "people.export", "people.import", "people.merge"]
GRANTS = {"National organiser": ALL, "Chapter coordinator": ["people.view", "people.edit"]}
WORDING = "Members receive their organisation's news and invitations."


def _number(raw):
    try:
        number = phonenumbers.parse(raw, "FR")
    except phonenumbers.NumberParseException:
        return None, False
    if not phonenumbers.is_valid_number(number):
        return None, False
    mobile = phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), mobile


def forwards(apps, schema_editor):
    Role = apps.get_model("chapters", "Role")
    for role in Role.objects.filter(name__in=GRANTS):
        role.capabilities = sorted(set(role.capabilities) | set(GRANTS[role.name]))
        role.save(update_fields=["capabilities"])

    User = apps.get_model("accounts", "User")
    Membership = apps.get_model("chapters", "Membership")
    Chapter = apps.get_model("chapters", "Chapter")
    Person = apps.get_model("people", "Person")
    PersonEmail = apps.get_model("people", "PersonEmail")
    PersonPhone = apps.get_model("people", "PersonPhone")
    PersonChapter = apps.get_model("people", "PersonChapter")
    Consent = apps.get_model("people", "Consent")
    Activity = apps.get_model("people", "Activity")

    active = Membership.objects.filter(status="active")
    members = User.objects.filter(is_active=True, pk__in=active.values("user")).exclude(
        pk__in=Person.objects.filter(user__isnull=False).values("user")
    )
    for user in members.iterator():
        postcode = "".join(user.postcode.split()).upper()[:10]
        person = Person.objects.create(
            user=user,
            full_name=user.full_name,
            postcode=postcode,
            commune=user.city[:120],
            address=user.address,
            source="member",
            created=user.date_joined,
            consents=["email:events", "email:news"],
        )
        # An address a supporter gave before becoming a member moves to the member's record.
        PersonEmail.objects.filter(email__iexact=user.email).delete()
        PersonEmail.objects.create(person=person, email=user.email.lower(), is_primary=True)
        number, mobile = _number(user.phone) if user.phone else (None, False)
        if number:
            PersonPhone.objects.create(person=person, number=number, is_mobile=mobile, is_primary=True)
        for chapter_id in active.filter(user=user).values_list("chapter", flat=True):
            PersonChapter.objects.create(person=person, chapter_id=chapter_id, reason="member")
        for purpose in ("events", "news"):
            Consent.objects.create(
                person=person,
                channel="email",
                purpose=purpose,
                status="granted",
                basis="membership",
                wording=WORDING,
                source="membership",
            )
        Activity.objects.create(person=person, kind="created", summary="Member account", created=user.date_joined)

    for chapter in Chapter.objects.filter(archived__isnull=True).exclude(area=""):
        for token in chapter.area.replace(",", " ").split():
            if token.isalnum():
                for person in Person.objects.filter(postcode__startswith=token.upper()):
                    PersonChapter.objects.get_or_create(person=person, chapter=chapter, reason="area")


class Migration(migrations.Migration):
    dependencies = [("people", "0001_initial"), ("chapters", "0006_chapter_invitations"), ("accounts", "0003_directory_indexes")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
