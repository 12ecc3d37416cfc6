"""The chat over plain HTTP: the same actions as the websocket, for clients whose websockets are
blocked, and the history and catch-up reads. JSON in, JSON out, errors with a stable code."""

import json
from functools import wraps

from django.contrib import messages as flash
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from chapters.models import Chapter
from chat import access, selectors, services
from chat.events import events_since, online_in
from chat.models import Report


def api(view):
    """JSON errors instead of redirects and exceptions: 401, 404, 400 with a code."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return error("unauthenticated", "Sign in first.", 401)
        try:
            return view(request, *args, **kwargs)
        except access.NotFound:
            return error("not_found", "No such room or message.", 404)
        except services.ChatError as failure:
            return error(
                failure.error_code, " ".join(failure.messages), 429 if failure.error_code == "rate_limited" else 400
            )
        except (KeyError, TypeError, ValueError, OverflowError):  # OverflowError: int(Infinity)
            return error("bad_fields", "Missing or malformed fields.", 400)
        except RequestDataTooBig:
            return error("too_large", "This request is too large.", 413)
        except SuspiciousOperation:  # more fields than Django reads, and the like
            return error("bad_request", "This request cannot be read.", 400)

    return wrapper


def error(code, message, status):
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def payload(request):
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except RecursionError as error:  # nested deeper than the parser goes
            raise ValueError("JSON nested too deeply") from error
        if not isinstance(data, dict):
            raise ValueError
        return data
    return request.POST


def room_json(room, user):
    state = selectors.room_state(user, room)
    muted = state["muted_until"]
    return {
        "id": room.pk,
        "name": selectors.room_name(room, user),
        "kind": room.kind,
        "audience": room.audience,
        "chapter": room.chapter.name,
        "can_post": access.can_post(user, room),
        "can_moderate": access.can_moderate(user, room),
        "can_invite": access.can_invite(user, room),
        "can_leave": room.has_members,
        "muted_until": muted.isoformat() if muted else None,
        "unread": state["unread"],
        "mentions": state["mentions"],
    }


@require_GET
@api
def rooms(request):
    user = request.user
    topic_chapters = access.topic_chapters(user)
    readable = selectors.rooms_for(user, with_state=True)
    return JsonResponse(
        {
            "rooms": [room_json(room, user) for room in readable],
            "last_event_id": max((room.last_event or 0 for room in readable), default=0),
            "topic_chapters": [{"id": c.pk, "name": c.name} for c in topic_chapters.order_by("path")[:500]],
            "can_start_conversations": access.can_post_anywhere(user),
        }
    )


def people_ids(data):
    people = data.getlist("people") if hasattr(data, "getlist") else data["people"]
    if not isinstance(people, list) or not all(isinstance(pk, int | str) for pk in people):
        raise TypeError
    return [int(pk) for pk in people]


@require_POST
@api
def topic_create(request):
    data = payload(request)
    chapter = Chapter.objects.filter(pk=int(data["chapter"])).first()
    if chapter is None:
        raise access.NotFound
    room = services.topic_create(
        actor=request.user,
        chapter=chapter,
        name=data["name"],
        audience=str(data.get("audience", "")),
        people=people_ids(data) if data.get("people") else [],
    )
    return JsonResponse({"room": room_json(room, request.user)}, status=201)


@require_POST
@api
def direct_open(request):
    room = services.direct_open(actor=request.user, people=people_ids(payload(request)))
    room = access.get_room_for(request.user, room.pk)
    return JsonResponse({"room": room_json(room, request.user)})


@require_POST
@api
def room_invite(request, room_id):
    room = access.get_room_for(request.user, room_id)
    added = services.room_invite(actor=request.user, room=room, people=people_ids(payload(request)))
    return JsonResponse({"added": [{"id": user.pk, "name": user.get_full_name()} for user in added]})


@require_POST
@api
def room_leave(request, room_id):
    services.room_leave(actor=request.user, room=access.get_room_for(request.user, room_id))
    return JsonResponse({"left": room_id})


@require_GET
@api
def people(request):
    """People to mention in a room (?room=) or to invite (without it), from the directory."""
    room_id = request.GET.get("room")
    room = access.get_room_for(request.user, int(room_id)) if room_id else None
    query = request.GET.get("q", "")[:100]
    found = selectors.people_for(request.user, query=query, room=room) if query.strip() else []
    return JsonResponse({"people": [{"id": user.pk, "name": user.get_full_name()} for user in found]})


@require_GET
@api
def presence(request, room_id):
    return JsonResponse({"online": online_in(access.get_room_for(request.user, room_id))})


@require_POST
@api
def room_mute(request, room_id):
    room = access.get_room_for(request.user, room_id)
    data = payload(request)
    target = get_user_model().objects.filter(pk=int(data["user"])).first()
    if target is None:
        raise access.NotFound
    until = services.mute_impose(
        actor=request.user, room=room, user=target, minutes=int(data["minutes"]), reason=str(data.get("reason", ""))
    )
    return JsonResponse({"muted_until": until.isoformat()})


@require_POST
@api
def message_report(request, message_id):
    message = access.get_message_for(request.user, message_id)
    data = payload(request)
    report = services.report_file(
        actor=request.user, message=message, reason=str(data["reason"]), note=str(data.get("note", ""))
    )
    return JsonResponse({"report": report.pk}, status=201)


@api
def messages(request, room_id):
    room = access.get_room_for(request.user, room_id)
    if request.method == "POST":
        message = services.message_send(actor=request.user, room=room, body=payload(request)["body"])
        return JsonResponse({"message": selectors.serialize(message)}, status=201)
    before = request.GET.get("before")
    page = selectors.history(room=room, before=int(before) if before else None)
    return JsonResponse(
        {
            "messages": [selectors.serialize(message) for message in page],
            "before": page[-1].pk if len(page) == 50 else None,
        }
    )


@require_POST
@api
def message_edit(request, message_id):
    message = access.get_message_for(request.user, message_id)
    message = services.message_edit(actor=request.user, message=message, body=payload(request)["body"])
    return JsonResponse({"message": selectors.serialize(message)})


@require_POST
@api
def message_delete(request, message_id):
    message = services.message_delete(actor=request.user, message=access.get_message_for(request.user, message_id))
    return JsonResponse({"message": selectors.serialize(message)})


@require_POST
@api
def message_react(request, message_id):
    message = access.get_message_for(request.user, message_id)
    message = services.reaction_toggle(actor=request.user, message=message, emoji=str(payload(request)["emoji"]))
    return JsonResponse({"message": selectors.serialize(message)})


@require_POST
@api
def room_read(request, room_id):
    room = access.get_room_for(request.user, room_id)
    position = services.read_mark(actor=request.user, room=room, message_id=int(payload(request)["message"]))
    return JsonResponse({"last_read": position.last_read})


@require_GET
@api
def events(request):
    """What happened since event `after` in the person's rooms: the catch-up the websocket's
    resume gives, for polling clients."""
    after = int(request.GET.get("after", 0))  # before rooms_for(), which may create rooms
    room_ids = [room.pk for room in selectors.rooms_for(request.user)]
    return JsonResponse({"events": events_since(last_event_id=after, room_ids=room_ids, limit=500)})


@login_required
def chat_page(request):
    return render(
        request,
        "chat/chat.html",
        {
            "reasons": Report.Reason.choices,
            "mute_minutes": services.MUTE_MINUTES,
            "open_reports": selectors.open_reports_count(request.user),
        },
    )


# The moderators' queue ----------------------------------------------------------------------------


def _moderator(request):
    if not access.can_moderate_anywhere(request.user):
        raise Http404
    return request.user


@login_required
def moderation(request):
    """Reports to handle (or handled ones) and running mutes, in the rooms the person moderates."""
    moderator = _moderator(request)
    handled = request.GET.get("show") == "handled"
    reports = selectors.reports_for(moderator, status="handled" if handled else Report.Status.OPEN)
    page = Paginator(reports, 20).get_page(request.GET.get("page"))
    for report in page:
        report.room_name = selectors.room_name(report.message.room, moderator)
    return render(
        request,
        "chat/moderation.html",
        {
            "page": page,
            "handled": handled,
            "mutes": selectors.mutes_for(moderator)[:100],
            "mute_minutes": services.MUTE_MINUTES,
        },
    )


@require_POST
@login_required
def moderation_report(request, report_id):
    moderator = _moderator(request)
    try:
        report = access.get_report_for(moderator, report_id)
        minutes = request.POST.get("mute_minutes") or None
        services.report_handle(
            actor=moderator,
            report=report,
            outcome=request.POST.get("outcome", ""),
            delete_message=request.POST.get("delete_message") == "on",
            mute_minutes=int(minutes) if minutes else None,
            note=request.POST.get("note", ""),
        )
    except access.NotFound as missing:
        raise Http404 from missing
    except services.ChatError as failure:
        flash.error(request, " ".join(failure.messages))
    except ValueError:
        flash.error(request, _("Choose one of the proposed durations."))
    else:
        flash.success(request, _("The report was handled."))
    return redirect("chat_moderation")


@require_POST
@login_required
def moderation_unmute(request, mute_id):
    moderator = _moderator(request)
    mute = selectors.mutes_for(moderator).filter(pk=mute_id).first()
    if mute is None:
        raise Http404
    services.mute_lift(actor=moderator, room=mute.room, user=mute.user)
    flash.success(request, _("%(name)s can write again.") % {"name": mute.user.get_full_name()})
    return redirect("chat_moderation")
