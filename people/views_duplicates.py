"""Likely duplicates in the member app: the review list, the merge screen, the merge history.

Every page needs people.merge on both people concerned; anything else is the same 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from chapters import access as chapter_access
from chapters.selectors import CappedPaginator
from chapters.services import InvalidAction, NotAllowed
from people import capabilities, merging
from people.forms_duplicates import MergeForm
from people.models import CustomField


def _require_merge_somewhere(user):
    if not user.is_authenticated or not chapter_access.can_anywhere(user, capabilities.MERGE):
        raise Http404


@login_required
def duplicates(request):
    viewer = request.user
    _require_merge_somewhere(viewer)
    page = CappedPaginator(merging.pairs_for(viewer), 20).get_page(request.GET.get("page"))
    return render(
        request,
        "people/duplicates/list.html",
        {"page": page, "pairs": merging.pairs_shown(viewer, page.object_list)},
    )


@login_required
@require_POST
def duplicates_find(request):
    _require_merge_somewhere(request.user)
    try:
        merging.duplicates_find_request(actor=request.user)
    except NotAllowed as error:
        raise Http404 from error
    messages.success(request, _("Looking for likely duplicates: new pairs appear in this list within a minute."))
    return redirect("people_duplicates")


@login_required
@require_POST
def duplicate_dismiss(request, pk):
    pair = merging.get_pair_for(request.user, pk)
    try:
        merging.pair_dismiss(actor=request.user, pair=pair)
    except NotAllowed as error:
        raise Http404 from error
    messages.success(request, _("Marked as two different people: this pair will not be suggested again."))
    return redirect("people_duplicates")


@login_required
@require_http_methods(["GET", "POST"])
def merge(request, pk):
    viewer = request.user
    pair = merging.get_pair_for(viewer, pk)
    kept, other = merging.kept_of(pair.person_a, pair.person_b)
    wanted = (request.POST if request.method == "POST" else request.GET).get("keep", "")
    if not kept.user_id and wanted == str(other.pk):
        kept, other = other, kept
    refusal = merging.merge_refusal(kept, other)
    custom_fields = list(CustomField.objects.all())
    form = MergeForm(request.POST or None, kept=kept, merged=other, custom_fields=custom_fields)
    if request.method == "POST" and refusal is None and form.is_valid():
        try:
            done = merging.person_merge(actor=viewer, kept=kept, merged=other, choices=form.choices())
        except NotAllowed as error:
            raise Http404 from error
        except InvalidAction as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _("%(merged)s was merged into %(kept)s. You can undo it for %(days)s days from the merge history.")
                % {"merged": done.merged, "kept": done.kept, "days": merging.UNDO_DAYS},
            )
            return redirect("person_detail", done.kept.pk)
    shown = merging.pairs_shown(viewer, [pair])[0]
    by_pk = {shown["a"].pk: shown["a"], shown["b"].pk: shown["b"]}
    return render(
        request,
        "people/duplicates/merge.html",
        {
            "pair": pair,
            "form": form,
            "kept": kept,
            "other": other,
            "may_swap": not kept.user_id and not other.user_id,
            "refusal": refusal,
            "reason": shown["reason"],
            "kept_shown": by_pk[kept.pk],
            "other_shown": by_pk[other.pk],
        },
    )


@login_required
def merges(request):
    viewer = request.user
    _require_merge_somewhere(viewer)
    page = CappedPaginator(merging.merges_for(viewer), 20).get_page(request.GET.get("page"))
    for done in page.object_list:
        done.refusal = merging.undo_refusal(done)
        done.deadline = merging.undo_deadline(done)
    return render(request, "people/duplicates/merges.html", {"page": page})


@login_required
@require_POST
def merge_undo(request, pk):
    done = merging.get_merge_for(request.user, pk)
    try:
        merging.merge_undo(actor=request.user, merge=done)
    except NotAllowed as error:
        raise Http404 from error
    except InvalidAction as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The merge was undone: %(merged)s is back.") % {"merged": done.merged})
    return redirect("people_merges")
