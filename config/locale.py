"""Which language a request is answered in."""

from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.utils import translation
from django.utils.cache import patch_vary_headers

# Everything but the campaign site's pages: the member app, the accounts pages, the admin sites,
# the site's form endpoints, the shop. Their URLs carry no language.
UNPREFIXED = (
    "/app/",
    "/accounts/",
    "/cms/",
    "/admin/",
    "/site/",
    "/shop/",
    "/i18n/",
    "/documents/",
    "/media/",
    "/my-data/",
)


class LocaleMiddleware(DjangoLocaleMiddleware):
    """Django's, for the campaign site's pages (the default language at /, the other under its
    prefix). Django would also answer every other URL in the default language once i18n_patterns
    is used without a prefix for it; here those follow the person's choice (the language cookie,
    then the browser's languages), as they did before the site had two languages."""

    def process_request(self, request):
        if not request.path_info.startswith(UNPREFIXED):
            return super().process_request(request)
        translation.activate(translation.get_language_from_request(request))
        request.LANGUAGE_CODE = translation.get_language()
        return None

    def process_response(self, request, response):
        if not request.path_info.startswith(UNPREFIXED):
            return super().process_response(request, response)
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", translation.get_language())
        return response
