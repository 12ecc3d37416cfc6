"""Importing people: the list and upload, the mapping screen, the progress and its report.

Every page needs people.import where the import goes (its chapter and those above it, or
organisation-wide for an import into no chapter); anything else is the same 404."""

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from chapters import access as chapter_access
from chapters.member_files import safe_cell
from chapters.services import InvalidAction, NotAllowed
from people import capabilities
from people import imports as importing
from people.forms_imports import MappingForm, UploadForm
from people.models import CustomField, PersonImport

RUNNING = (PersonImport.Status.QUEUED, PersonImport.Status.RUNNING)


@login_required
@require_http_methods(["GET", "POST"])
def import_list(request):
    viewer = request.user
    if not chapter_access.can_anywhere(viewer, capabilities.IMPORT):
        raise Http404
    form = UploadForm(
        request.POST or None,
        request.FILES or None,
        chapters=importing.importable_chapters(viewer),
        organisation_wide=chapter_access.can(viewer, capabilities.IMPORT),
    )
    if request.method == "POST" and form.is_valid():
        try:
            person_import = importing.import_upload(
                actor=viewer, chapter=form.cleaned_data["chapter"], uploaded=form.cleaned_data["file"]
            )
        except NotAllowed as error:
            raise Http404 from error
        except InvalidAction as error:
            form.add_error("file", error)
        else:
            return redirect("people_import_map", person_import.pk)
    return render(
        request,
        "people/imports/imports.html",
        {"form": form, "imports": importing.imports_for(viewer)[:50]},
    )


@login_required
@require_http_methods(["GET", "POST"])
def import_map(request, pk):
    viewer = request.user
    person_import = importing.get_import_for(viewer, pk)
    if person_import.status != PersonImport.Status.UPLOADED:
        return redirect("people_import_detail", person_import.pk)
    custom_fields = list(CustomField.objects.all())
    header = person_import.preview.get("header", [])
    form = MappingForm(
        request.POST or None,
        header=header,
        choices=[(str(group), list(choices)) if group else choices[0] for group, choices in
                 importing.targets(custom_fields) if choices],
        mapping=person_import.mapping,
    )  # fmt: skip
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            importing.import_start(
                actor=viewer,
                person_import=person_import,
                mapping=form.mapping(),
                consent_source=data["consent_source"],
                consent_wording=data["consent_wording"],
                tag_every_row=[data["tag_every_row"]],
            )
        except NotAllowed as error:
            raise Http404 from error
        except InvalidAction as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("The import has started: follow it here."))
            return redirect("people_import_detail", person_import.pk)
    rows = person_import.preview.get("rows", [])
    columns = [
        {"field": form[f"col_{index}"], "name": name, "examples": [row[index] for row in rows[:3] if row[index]]}
        for index, name in enumerate(header)
    ]
    return render(
        request,
        "people/imports/map.html",
        {
            "person_import": person_import,
            "form": form,
            "columns": columns,
            "header": header,
            "rows": rows,
            "encoding": importing.encoding_label(person_import),
        },
    )


@login_required
@require_GET
def import_detail(request, pk):
    person_import = importing.get_import_for(request.user, pk)
    return render(
        request,
        "people/imports/detail.html",
        {
            "person_import": person_import,
            "progress": importing.progress(person_import),
            "running": person_import.status in RUNNING,
            "rejections": person_import.rejections[:100],
        },
    )


@login_required
@require_GET
def import_progress(request, pk):
    return JsonResponse(importing.progress(importing.get_import_for(request.user, pk)))


@login_required
@require_GET
def import_rejections(request, pk):
    person_import = importing.get_import_for(request.user, pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="rejected-lines-{person_import.pk}.csv"'
    response.write("\ufeff")  # so that spreadsheet applications read UTF-8
    writer = csv.writer(response)
    writer.writerow([_("Line"), _("Why it was not imported")])
    writer.writerows([line, safe_cell(reason)] for line, reason in person_import.rejections)
    return response
