"""Websocket routes, all under /ws/. The feature apps add theirs here."""

websocket_urlpatterns = []
