"""Websocket routes, all under /ws/."""

import os

from django.urls import path

from calls.consumers import CampaignConsumer
from chat.consumers import ChatConsumer
from cms.consumers import CounterConsumer
from mailings.consumers import MailingProgressConsumer

websocket_urlpatterns = [
    path("ws/chat/", ChatConsumer.as_asgi()),
    path("ws/site/petition/<int:page_id>/", CounterConsumer.as_asgi()),
    path("ws/mailings/<int:mailing_id>/", MailingProgressConsumer.as_asgi()),
    path("ws/calls/<int:campaign_id>/", CampaignConsumer.as_asgi()),
]

if os.environ.get("RELAIS_BENCH_ECHO") == "1":  # the fan-out benchmark's reference, never in production
    from bench.echo_consumer import EchoConsumer

    websocket_urlpatterns.append(path("ws/bench-echo/", EchoConsumer.as_asgi()))
