"""Segments in the member app: the list, the builder with its live count, a segment's people,
export and deletion. Each view parses input, calls people.segments, renders."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from chapters import access as chapter_access
from chapters.models import Chapter
from chapters.services import InvalidAction, NotAllowed
from people import access, capabilities, segments
from people.forms_segments import SegmentForm, initial_from

LIST_PAGE = 25


def _require_anywhere(user, capability):
    if not user.is_authenticated or not chapter_access.can_anywhere(user, capability):
        raise Http404


def _count_text(count):
    return ngettext("%(counter)s person", "%(counter)s people", count) % {"counter": count}


@login_required
def segment_list(request):
    viewer = request.user
    _require_anywhere(viewer, capabilities.VIEW)
    page = Paginator(segments.segments_for(viewer), LIST_PAGE).get_page(request.GET.get("page"))
    for segment in page.object_list:
        segment.whole = segments.counts_whole_owner(viewer, segment)
        # The organisation's segment, seen from a chapter: its count is theirs, counted now.
        segment.count = segment.last_count if segment.whole else segments.audience_for(viewer, segment).count()
        segment.editable = segments.may_use(viewer, segment, capabilities.EDIT)
    return render(
        request,
        "people/segments/list.html",
        {"page": page, "may_create": chapter_access.can_anywhere(viewer, capabilities.EDIT)},
    )


def _builder(request, segment=None, *, counting=False):
    viewer = request.user
    owners, organisation_wide = segments.owners_for(viewer)
    if segment is not None and segment.chapter_id is not None:
        owners = owners | Chapter.objects.filter(pk=segment.chapter_id)
    initial = {}
    if segment is not None:
        initial = initial_from(segment.definition) or {}
        initial |= {"name": segment.name, "description": segment.description, "owner": segment.chapter_id}
    return SegmentForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        owners=owners.order_by("path"),
        organisation_wide=organisation_wide,
        visible_chapters=Chapter.objects.filter(chapter_access.chapters_where(viewer, capabilities.VIEW)).order_by(
            "path"
        ),
        usable_segments=segments.segments_for(viewer),
        segment=segment,
        counting=counting,
    )


def _edit(request, segment=None):
    viewer = request.user
    form = _builder(request, segment, counting=request.POST.get("action") == "count")
    count = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if request.POST.get("action") == "count":
            count = segments.audience_for(viewer, data["definition"], chapter=data["owner"]).count()
        else:
            try:
                saved = segments.segment_save(
                    actor=viewer,
                    segment=segment,
                    name=data["name"],
                    description=data["description"],
                    chapter=data["owner"],
                    definition=data["definition"],
                )
            except NotAllowed:
                form.add_error("owner", _("You may not save segments for this chapter."))
            except InvalidAction as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("The segment “%(name)s” was saved.") % {"name": saved.name})
                return redirect("people_segment", saved.pk)
    return render(
        request,
        "people/segments/builder.html",
        {
            "form": form,
            "segment": segment,
            "count": count,
            "count_text": _count_text(count) if count is not None else "",
            "built_elsewhere": segment is not None and initial_from(segment.definition) is None,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def segment_create(request):
    _require_anywhere(request.user, capabilities.EDIT)
    return _edit(request)


@login_required
@require_http_methods(["GET", "POST"])
def segment_edit(request, pk):
    segment = segments.get_segment_for(request.user, pk, capabilities.EDIT)
    if initial_from(segment.definition) is None and request.method == "POST":
        raise Http404  # the builder cannot show it: saving would lose conditions
    return _edit(request, segment)


def _error(code, message, status=400):
    return JsonResponse({"error": {"code": code, "message": str(message)}}, status=status)


@login_required
@require_POST
def segment_count(request):
    """The live count of the builder: the form as posted, or JSON {"definition": {...}, "chapter": id}.
    Answers {"count": n, "text": "n people"}, or 400 {"error": {"code", "message"}}."""
    viewer = request.user
    _require_anywhere(viewer, capabilities.VIEW)
    if request.content_type == "application/json":
        try:
            payload = json.loads(request.body or b"null")
        except RequestDataTooBig:
            return _error("too_large", _("This request is too large."), status=413)
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested deeper than the parser goes
            return _error("not_json", _("The body is not JSON."))
        if not isinstance(payload, dict) or set(payload) - {"definition", "chapter"} or "definition" not in payload:
            return _error("not_an_object", _("Send an object with “definition” and, optionally, “chapter”."))
        owner = None
        if payload.get("chapter") is not None:
            owner_id = payload["chapter"]
            owner = Chapter.objects.filter(pk=owner_id).first() if type(owner_id) is int else None
            if owner is None or not chapter_access.can(viewer, capabilities.VIEW, owner):
                return _error("unknown_chapter", _("No such chapter among yours."))
        try:
            definition = segments.validate_definition(
                payload["definition"], usable_segments=segments.segments_for(viewer)
            )
        except segments.InvalidDefinition as error:
            return _error(error.code, error.messages[0])
    else:
        try:
            form = _builder(request, counting=True)  # reads the form: Django refuses some before it parses them
        except RequestDataTooBig:
            return _error("too_large", _("This request is too large."), status=413)
        except SuspiciousOperation:  # more fields than Django reads
            return _error("bad_request", _("This request cannot be read."))
        if not form.is_valid():
            errors = form.errors.as_data()
            first = next(iter(errors.values()))[0]
            return _error(first.code or "invalid", " ".join(first.messages))
        definition, owner = form.cleaned_data["definition"], form.cleaned_data["owner"]
    count = segments.audience_for(viewer, definition, chapter=owner).count()
    return JsonResponse({"count": count, "text": _count_text(count)})


@login_required
def segment_detail(request, pk):
    viewer = request.user
    segment = segments.get_segment_for(viewer, pk)
    count = segments.segment_count(actor=viewer, segment=segment)
    paginator = Paginator(segments.first_page(segments.audience_for(viewer, segment)), segments.FIRST_PAGE)
    paginator.count = count  # counted once, above
    page = paginator.get_page(request.GET.get("page"))
    for person in page.object_list:
        person.shows_contacts = access.may_see_contacts(viewer, person)
    return render(
        request,
        "people/segments/detail.html",
        {
            "segment": segment,
            "page": page,
            "count_text": _count_text(count),
            "whole": segments.counts_whole_owner(viewer, segment),
            "conditions": segments.describe(segment.definition),
            "editable": segments.may_use(viewer, segment, capabilities.EDIT),
            "exportable": segments.may_use(viewer, segment, capabilities.EXPORT),
        },
    )


@login_required
def segment_export(request, pk, file_format):
    viewer = request.user
    segment = segments.get_segment_for(viewer, pk, capabilities.EXPORT)
    try:
        filename, content_type, content = segments.segment_export(
            actor=viewer, segment=segment, file_format=file_format
        )
    except NotAllowed as error:
        raise Http404 from error
    if file_format == "csv":
        response = StreamingHttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    return FileResponse(content, as_attachment=True, filename=filename, content_type=content_type)


@login_required
@require_http_methods(["GET", "POST"])
def segment_delete(request, pk):
    viewer = request.user
    segment = segments.get_segment_for(viewer, pk, capabilities.EDIT)
    if request.method == "POST":
        try:
            segments.segment_delete(actor=viewer, segment=segment)
        except InvalidAction as error:
            messages.error(request, " ".join(error.messages))
            return redirect("people_segment", segment.pk)
        messages.success(request, _("The segment “%(name)s” was deleted.") % {"name": segment.name})
        return redirect("people_segments")
    return render(request, "people/segments/delete.html", {"segment": segment})
