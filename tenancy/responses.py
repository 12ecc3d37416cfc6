"""How every app sends an uploaded file back: with a Content-Security-Policy under which nothing
in it runs, it cannot be framed and it submits nothing (config/csp.py applies it)."""

from csp.constants import NONE, SELF, UNSAFE_INLINE

FILE_POLICY = {"default-src": [NONE], "img-src": [SELF], "style-src": [UNSAFE_INLINE], "sandbox": True}


def serve_as_file(response):
    """Mark a response that carries an uploaded file: it gets FILE_POLICY."""
    response._csp_config = FILE_POLICY
    return response
