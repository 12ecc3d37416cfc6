"""The ceiling of bench/serving.py: a WSGI application that answers "hello" and does nothing else,
served by the same server, with the same workers and threads, as Relais's pages."""


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]
