"""The supporter base in the member app: the list, a person's page, and the organisation's fields."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from chapters import access as chapter_access
from chapters.selectors import chapter_tree
from chapters.services import InvalidAction, NotAllowed
from people import access, capabilities, selectors, services
from people.forms import BulkEditForm, ConsentForm, CustomFieldForm, NewPersonForm, NoteForm, PersonForm, TagsForm
from people.models import CustomField, Tag


def _require_anywhere(user, capability):
    if not user.is_authenticated or not chapter_access.can_anywhere(user, capability):
        raise Http404


def _term(request, name, limit=200):
    return request.GET.get(name, "").replace("\x00", "")[:limit]


@login_required
def people(request):
    viewer = request.user
    _require_anywhere(viewer, capabilities.VIEW)
    chapters = [
        chapter
        for chapter in chapter_tree(include_archived=True)
        if chapter_access.can(viewer, capabilities.VIEW, chapter)
    ]
    chapter_slug = _term(request, "chapter", 60)
    chapter = next((c for c in chapters if c.slug == chapter_slug), None)
    tag_name = _term(request, "tag", 60)
    tag = Tag.objects.filter(name=tag_name).first() if tag_name else None
    member = {"yes": True, "no": False}.get(request.GET.get("member"))
    found = selectors.people_for(viewer, query=_term(request, "q"), chapter=chapter, tag=tag, member=member)
    page = selectors.paginator(selectors.with_details(found)).get_page(request.GET.get("page"))
    for person in page.object_list:
        person.shows_contacts = access.may_see_contacts(viewer, person)
        person.editable = access.can(viewer, capabilities.EDIT, person)
    for chapter_option in chapters:
        chapter_option.indent = "\u2003" * (chapter_option.depth - 1)
    return render(
        request,
        "people/people.html",
        {
            "page": page,
            "chapters": chapters,
            "selected_chapter": chapter_slug,
            "tags": Tag.objects.order_by("name"),
            "selected_tag": tag_name,
            "member": request.GET.get("member", ""),
            "query": _term(request, "q"),
            "may_add": chapter_access.can_anywhere(viewer, capabilities.EDIT),
            "may_define_fields": access.can_edit_in(viewer, None),
            "may_merge": chapter_access.can_anywhere(viewer, capabilities.MERGE),
            "may_import": chapter_access.can_anywhere(viewer, capabilities.IMPORT),
            "bulk_form": BulkEditForm(),
            "custom_fields": CustomField.objects.all(),
        },
    )


@login_required
@require_POST
def people_bulk_tags(request):
    _require_anywhere(request.user, capabilities.EDIT)
    form = BulkEditForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(message for errors in form.errors.values() for message in errors))
        return redirect("people")
    data = form.cleaned_data
    chosen = list(access.within(request.user, capabilities.EDIT).filter(pk__in=data["people"]))
    if len(chosen) != len(data["people"]):
        raise Http404  # someone the viewer may not edit, or nobody: the same answer
    try:
        count = services.people_bulk_edit(
            actor=request.user, people=chosen, add=data["add"], remove=data["remove"], field=data["field"],
            value=data["value"],
        )  # fmt: skip
    except NotAllowed as error:
        raise Http404 from error
    messages.success(request, _("%(count)s people changed.") % {"count": count})
    return redirect(request.POST.get("next") if _safe_next(request.POST.get("next")) else "people")


def _safe_next(url):
    return bool(url) and url.startswith("/app/people/") and "//" not in url and "\\" not in url


@login_required
@require_http_methods(["GET", "POST"])
def person_create(request):
    viewer = request.user
    _require_anywhere(viewer, capabilities.EDIT)
    form = NewPersonForm(
        request.POST or None,
        chapters=access.chapters_for_new_people(viewer).order_by("path"),
        organisation_wide=access.can_edit_in(viewer, None),
        custom_fields=CustomField.objects.all(),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            person = services.person_create(
                actor=viewer,
                chapter=data["chapter"],
                full_name=data["full_name"],
                emails=data["emails"],
                phones=data["phones"],
                fields=form.custom_values(),
                **{name: data[name] for name in ("postcode", "commune", "address", "language", "polling_station")},
            )
        except services.Duplicate as duplicate:
            if access.can(viewer, capabilities.VIEW, duplicate.person):
                messages.info(request, _("This person is already in the base: here is their page."))
                return redirect("person_detail", duplicate.person.pk)
            form.add_error(None, _("This address or number belongs to someone outside your chapters."))
        except InvalidAction as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("%(name)s was added.") % {"name": person})
            return redirect("person_detail", person.pk)
    return render(request, "people/person_form.html", {"form": form, "creating": True})


@login_required
def person_detail(request, pk):
    viewer = request.user
    person = access.get_person_for(viewer, pk)
    timeline = Paginator(selectors.timeline(person), 25).get_page(request.GET.get("page"))
    editable = access.can(viewer, capabilities.EDIT, person)
    fields = CustomField.objects.all()
    history = list(selectors.consent_history(person)[:200])  # newest first: the state, then the history
    tags = [tag.name for tag in person.tags.all()]
    return render(
        request,
        "people/person_detail.html",
        {
            "person": person,
            "shows_contacts": access.may_see_contacts(viewer, person),
            "editable": editable,
            "person_chapters": selectors.person_chapters(person),
            "consents": selectors.consent_state(history),
            "consent_history": history,
            "tags": tags,
            "timeline": timeline,
            "custom_values": [(field, person.fields.get(field.key)) for field in fields],
            "note_form": NoteForm(),
            "consent_form": ConsentForm(),
            "tags_form": TagsForm(initial={"tags": ", ".join(tags)}),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def person_edit(request, pk):
    viewer = request.user
    person = access.get_person_for(viewer, pk, capabilities.EDIT)
    form = PersonForm(request.POST or None, instance=person, custom_fields=CustomField.objects.all())
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.person_update(
                actor=viewer,
                person=person,
                emails=data["emails"],
                phones=data["phones"],
                fields=form.custom_values(),
                **{name: data[name] for name in services.EDITABLE if name in data},
            )
        except InvalidAction as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Saved."))
            return redirect("person_detail", person.pk)
    return render(request, "people/person_form.html", {"form": form, "person": person})


def _post_on_person(request, pk, form_class, act, done):
    """Parse a small form posted from a person's page, call the service, go back to the page."""
    person = access.get_person_for(request.user, pk, capabilities.EDIT)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            act(person, form.cleaned_data)
        except InvalidAction as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, done)
    else:
        messages.error(request, " ".join(message for errors in form.errors.values() for message in errors))
    return redirect("person_detail", person.pk)


@login_required
@require_POST
def person_note(request, pk):
    return _post_on_person(
        request,
        pk,
        NoteForm,
        lambda person, data: services.note_add(actor=request.user, person=person, text=data["text"]),
        _("Note added."),
    )


@login_required
@require_POST
def person_consent(request, pk):
    return _post_on_person(
        request,
        pk,
        ConsentForm,
        lambda person, data: services.consent_change(actor=request.user, person=person, **data),
        _("Consent recorded."),
    )


@login_required
@require_POST
def person_tags(request, pk):
    return _post_on_person(
        request,
        pk,
        TagsForm,
        lambda person, data: services.tags_set(actor=request.user, person=person, names=data["tags"]),
        _("Tags saved."),
    )


@login_required
@require_http_methods(["GET", "POST"])
def custom_fields(request, pk=None):
    """The organisation's custom fields: listed for who edits people anywhere, defined by who
    edits them organisation-wide."""
    viewer = request.user
    _require_anywhere(viewer, capabilities.EDIT)
    editing = get_object_or_404(CustomField, pk=pk) if pk is not None else None
    may_define = access.can_edit_in(viewer, None)
    form = CustomFieldForm(request.POST or None, instance=editing) if may_define else None
    if request.method == "POST":
        if form is None:
            raise Http404
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.custom_field_save(
                    actor=viewer,
                    field=editing,
                    name=data["name"],
                    key=data["key"],
                    kind=data["kind"],
                    choices=data["choices"],
                )
            except InvalidAction as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("The field “%(name)s” was saved.") % {"name": data["name"]})
                return redirect("people_fields")
    return render(
        request,
        "people/custom_fields.html",
        {"fields": CustomField.objects.all(), "form": form, "editing": editing, "tags": selectors.tag_counts(viewer)},
    )
