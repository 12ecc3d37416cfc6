"""An organiser imports a file of people through the mapping screen and watches its progress, run
by the real task worker, to the end and its report of rejected lines."""

import subprocess
import sys

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from chapters.models import AuditEntry
from people.models import Person, PersonEmail, PersonImport, Tag
from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD
from tests.helpers import ROOT, process_env

pytestmark = pytest.mark.browser

ROWS = 2000
DOMAIN = "import-journey.example"
TAG = "import journey"


def people_file(path):
    lines = ["Prénom;Nom;Courriel;Téléphone;Code postal;Newsletter"]
    lines += [f"Camille{n};Durand;camille{n}@{DOMAIN};06 {n:08d};59000;oui" for n in range(1, ROWS)]
    lines.append("Bad;Line;not an address;;;")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def cleanup(organisations, django_db_blocker):
    """What the journey commits, removed afterwards: the imported people, the import, its tag,
    its audit entries and its task."""
    started = timezone.now()
    yield
    with django_db_blocker.unblock(), schema_context("alpha"):
        Person.objects.filter(pk__in=PersonEmail.objects.filter(email__endswith=DOMAIN).values("person")).delete()
        Person.objects.filter(full_name="Bad Line").delete()
        PersonImport.objects.filter(created__gte=started).delete()
        Tag.objects.filter(name=TAG).delete()
        AuditEntry.objects.filter(action__startswith="people.import", created__gte=started).delete()
    with django_db_blocker.unblock():
        from django_tasks_db.models import DBTaskResult

        connection.set_schema_to_public()
        DBTaskResult.objects.filter(task_path__startswith="people.tasks.", enqueued_at__gte=started).delete()


@pytest.fixture
def start_worker():
    processes = []

    def start():
        (ROOT / ".data").mkdir(exist_ok=True)
        log = (ROOT / ".data" / "worker-import-tests.log").open("w")
        processes.append((subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "db_worker", "--no-startup-delay", "--interval", "0.2"],
            env=process_env(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        ), log))  # fmt: skip

    yield start
    for process, log in processes:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_an_organiser_maps_a_file_and_watches_the_import_to_its_report(
    server_port, cleanup, start_worker, page, tmp_path, django_db_blocker
):
    base = f"http://alpha.localhost:{server_port}"
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill("founder@alpha.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{base}/app/")

    page.goto(f"{base}/app/people/imports/")
    page.get_by_label("File").set_input_files(str(people_file(tmp_path / "supporters.csv")))
    page.get_by_role("button", name="Send the file").click()

    # The mapping screen: the columns guessed from their French names, a preview of the first lines.
    expect(page.get_by_role("heading", name="Map the columns of supporters.csv")).to_be_visible()
    expect(page.get_by_label("Courriel")).to_have_value("email")
    expect(page.get_by_label("Prénom")).to_have_value("first_name")
    expect(page.get_by_label("Téléphone")).to_have_value("phone")
    expect(page.get_by_text(f"camille1@{DOMAIN}").first).to_be_visible()
    page.get_by_label("Newsletter").select_option("consent:email:news")
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("alert")).to_contain_text("explicit consent needs them")
    page.get_by_label("Where the consents were given").fill("Fête de la rose 2024")
    page.get_by_label("Words the people agreed to").fill("Je veux recevoir les nouvelles du mouvement.")
    page.get_by_label("Tag everyone in the file with").fill(TAG)
    screenshot(page, "people-import-mapping")
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", name="Import of supporters.csv")).to_be_visible()
    expect(page.locator("[data-field=status_label]")).to_have_text("Queued")
    with django_db_blocker.unblock(), schema_context("alpha"):
        assert PersonImport.objects.get(filename="supporters.csv").status == "queued"
    start_worker()

    # The progress page polls until the worker is done, then shows the report.
    expect(page.get_by_role("heading", name="Import of supporters.csv")).to_be_visible()
    expect(page.locator("progress")).to_be_visible()
    expect(page.locator("[data-field=status_label]")).to_have_text("Done", timeout=60_000)
    expect(page.locator("[data-field=created]")).to_have_text(str(ROWS - 1))
    expect(page.locator("[data-field=rejected]")).to_have_text("1")
    expect(page.get_by_role("cell", name="“not an address” is not a valid email address.")).to_be_visible()
    screenshot(page, "people-import-report")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the rejected lines (CSV)").click()
    assert "not a valid email address" in download.value.path().read_text(encoding="utf-8-sig")

    with django_db_blocker.unblock(), schema_context("alpha"):
        person = Person.objects.get(emails__email=f"camille7@{DOMAIN}")
        assert person.full_name == "Camille7 Durand"
        assert person.consents == ["email:news"]
        assert Tag.objects.get(name=TAG).people.count() == ROWS - 1
