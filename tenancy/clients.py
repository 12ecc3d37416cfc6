"""Who sent a request: the visitor's address, also behind the proxy that production puts in front.

Behind a proxy, REMOTE_ADDR is the proxy's address for every visitor: rate limits per address
would count the whole public as one person. With TRUSTED_PROXY_COUNT set to the number of proxies
in front that add themselves to X-Forwarded-For, the address is the one the outermost of them saw;
the addresses before it in the header come from the client and are not believed.
"""

from django.conf import settings


def client_address(request):
    count = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if count and forwarded:
        addresses = [address.strip() for address in forwarded.split(",")]
        if len(addresses) >= count:
            return addresses[-count]
    return request.META.get("REMOTE_ADDR", "")
