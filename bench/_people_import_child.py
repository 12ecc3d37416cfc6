"""One import of bench/people.py, run as the worker runs it, in a process of its own so that its
peak memory is the import's: the upload (the whole file's encoding checked, the preview read), the
mapping, then the tasks of the import, each batch in its transaction. Prints its own timings and its peak memory,
the kernel's high-water mark of this process's own memory (VmHWM): getrusage's ru_maxrss would also
count the parent's memory at the fork, which Linux keeps across exec."""

import collections
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import django  # noqa: E402 - Django is set up here, in the child

django.setup()

from django.core.files import File  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from accounts.models import User  # noqa: E402
from people import imports  # noqa: E402
from people.models import PersonImport  # noqa: E402


def _status_mb(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":")) / 1024


def _rss_mb():
    return _status_mb("VmRSS")


def main(path, email):
    with schema_context("bench"):
        actor = User.objects.get(email=email)
        started = time.monotonic()
        with open(path, "rb") as handle:
            person_import = imports.import_upload(actor=actor, chapter=None, uploaded=File(handle, name="people.csv"))
        header = person_import.preview["header"]
        mapping = imports.guess_mapping(header)
        mapping[str(header.index("consentement e-mail"))] = "consent:email:news"
        mapping[str(header.index("étiquette"))] = imports.TAGS
        imports.import_start(
            actor=actor,
            person_import=person_import,
            mapping=mapping,
            consent_source="Bench",
            consent_wording="Je veux recevoir les nouvelles.",
        )
        uploaded = time.monotonic()
        if os.environ.get("BENCH_VERBOSE"):
            peak = _status_mb("VmHWM")
            print(f"after the upload and the mapping: {_rss_mb():.0f} MB (peak {peak:.0f} MB)", flush=True)
        position, tasks = None, 0
        while True:  # as the worker runs the import's tasks
            position = imports.run(person_import.pk, position=position, seconds=imports.TASK_SECONDS)
            tasks += 1
            if os.environ.get("BENCH_VERBOSE"):
                print(f"task {tasks}: {_rss_mb():.0f} MB", flush=True)
            if position is None:
                break
        done = PersonImport.objects.get(pk=person_import.pk)
        print(
            f"upload and mapping {uploaded - started:.1f} s, {tasks} tasks {time.monotonic() - uploaded:.1f} s: "
            f"{done.status}, {done.created_count:,} created, {done.updated_count:,} completed, "
            f"{done.rejected_count:,} rejected"
        )
        reasons = collections.Counter(reason for _line, reason in done.rejections).most_common(3)
        if reasons:
            print("why lines were rejected (the first 1,000):", "; ".join(f"{n} × {reason}" for reason, n in reasons))
        print(f"PEAK_MB={_status_mb('VmHWM'):.0f}")


main(*sys.argv[1:3])
