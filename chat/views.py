"""The chat over plain HTTP: the same actions as the websocket, for clients whose websockets are
blocked, and the history and catch-up reads. JSON in, JSON out, errors with a stable code."""

import json
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from chat import services


def api(view):
    """JSON errors instead of redirects and exceptions: 401, 404, 400 with a code."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return error("unauthenticated", "Sign in first.", 401)
        try:
            return view(request, *args, **kwargs)
        except services.NotFound:
            return error("not_found", "No such room or message.", 404)
        except services.ChatError as failure:
            return error(
                failure.error_code, " ".join(failure.messages), 429 if failure.error_code == "rate_limited" else 400
            )
        except (KeyError, TypeError, ValueError):
            return error("bad_fields", "Missing or malformed fields.", 400)

    return wrapper


def error(code, message, status):
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def payload(request):
    if request.content_type == "application/json":
        data = json.loads(request.body or b"{}")
        if not isinstance(data, dict):
            raise ValueError
        return data
    return request.POST


@require_GET
@api
def rooms(request):
    return JsonResponse(
        {
            "rooms": [
                {
                    "id": room.pk,
                    "name": room.name,
                    "kind": room.kind,
                    "can_post": services.can_post(request.user, room),
                    "unread": services.unread_count(user=request.user, room=room),
                }
                for room in services.rooms_for(request.user)
            ]
        }
    )


@api
def messages(request, room_id):
    room = services.get_room_for(request.user, room_id)
    if request.method == "POST":
        message = services.message_send(actor=request.user, room=room, body=payload(request)["body"])
        return JsonResponse({"message": services.serialize(message)}, status=201)
    before = request.GET.get("before")
    page = services.history(room=room, before=int(before) if before else None)
    return JsonResponse(
        {
            "messages": [services.serialize(message) for message in page],
            "before": page[-1].pk if len(page) == 50 else None,
        }
    )


@require_POST
@api
def message_edit(request, message_id):
    message = services.get_message_for(request.user, message_id)
    message = services.message_edit(actor=request.user, message=message, body=payload(request)["body"])
    return JsonResponse({"message": services.serialize(message)})


@require_POST
@api
def message_delete(request, message_id):
    message = services.message_delete(actor=request.user, message=services.get_message_for(request.user, message_id))
    return JsonResponse({"message": services.serialize(message)})


@require_POST
@api
def message_react(request, message_id):
    message = services.get_message_for(request.user, message_id)
    message = services.reaction_toggle(actor=request.user, message=message, emoji=str(payload(request)["emoji"]))
    return JsonResponse({"message": services.serialize(message)})


@require_POST
@api
def room_read(request, room_id):
    room = services.get_room_for(request.user, room_id)
    position = services.read_mark(actor=request.user, room=room, message_id=int(payload(request)["message"]))
    return JsonResponse({"last_read": position.last_read})


@require_GET
@api
def events(request):
    """What happened since event `after` in the person's rooms: the catch-up the websocket's
    resume gives, for polling clients."""
    room_ids = [room.pk for room in services.rooms_for(request.user)]
    found = services.events_since(last_event_id=int(request.GET.get("after", 0)), room_ids=room_ids, limit=500)
    return JsonResponse(
        {"events": [{"type": e["kind"], "event_id": e["pk"], "room": e["room_id"], **e["payload"]} for e in found]}
    )


@login_required
def chat_page(request):
    return render(request, "chat/chat.html")
