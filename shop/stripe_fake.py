"""A local stand-in for the few Stripe endpoints Relais uses, speaking Stripe's HTTP API.

Tests, `make bench` and a developer trying the shop offline point the Stripe library at it with
STRIPE_API_BASE (the library's own `base_addresses`). It implements:

    POST /v1/checkout/sessions                 create (form-encoded, as the library sends it)
    GET  /v1/checkout/sessions/<id>            retrieve
    POST /v1/checkout/sessions/<id>/expire     expire (and send checkout.session.expired)
    POST /v1/refunds                           refund a paid session's payment intent
                                               (and send charge.refunded)
    GET  /pay/<id>                             the hosted payment page: Pay / Cancel buttons
    POST /pay/<id>                             pay: the session completes, the
                                               checkout.session.completed event is sent, and the
                                               buyer is redirected to the success URL

Webhook events are signed exactly as Stripe signs them: a `Stripe-Signature` header
`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<payload>" with the endpoint's secret>`.
An account (a secret key) knows its webhook endpoint and signing secret; events are POSTed there
when `deliver` is on, and are always kept in `events` for a test to deliver itself. Every API
request the fake answers is kept in `requests`, for a test to check what Relais asked Stripe.

    python -m shop.stripe_fake --port 12111 --key sk_test_x --secret whsec_x \
        --webhook http://demo.localhost:8000/shop/stripe/webhook/
"""

import argparse
import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple
from urllib.parse import parse_qsl, urlsplit

import requests


def sign(payload, secret, timestamp=None):
    """The Stripe-Signature header for `payload` (bytes or str): an HMAC of the body's bytes, as
    Stripe computes it, so that a body which is not UTF-8 can be signed too."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    if isinstance(payload, str):
        payload = payload.encode()
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signature}"


def event(event_type, data_object, *, event_id=None, created=None):
    return {
        "id": event_id or "evt_" + secrets.token_hex(12),
        "object": "event",
        "api_version": "2025-10-29.clover",
        "created": int(time.time()) if created is None else created,
        "livemode": False,
        "pending_webhooks": 1,
        "type": event_type,
        "data": {"object": data_object},
    }


def parse_form(body):
    """Stripe's form encoding (a[b][0][c]=v) back into nested dicts and lists."""
    root = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return _lists(root)


def _lists(node):
    if isinstance(node, dict):
        node = {key: _lists(value) for key, value in node.items()}
        if node and all(key.isdigit() for key in node):
            return [node[key] for key in sorted(node, key=int)]
    return node


class Account:
    def __init__(self, secret_key, webhook_url="", webhook_secret=""):
        self.secret_key = secret_key
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret


class ApiRequest(NamedTuple):
    """An API request as the fake received it: its parameters decoded from Stripe's form encoding."""

    account: str  # the secret key it was made with
    method: str
    path: str
    params: dict
    idempotency_key: str | None


class FakeStripe:
    def __init__(self, host="127.0.0.1", port=0, deliver=True):
        self.accounts = {}
        self.sessions = {}
        self.events = []  # (account, event) in the order they were sent
        self.requests = []  # every ApiRequest, in the order received (outages included)
        self.deliveries = []  # (event id, HTTP status or error) for each delivery attempt
        self.deliver = deliver
        self.fail_next = 0  # answer the next N API calls with a 500 (an outage)
        self.lock = threading.Lock()
        self.idempotency = {}
        self.server = ThreadingHTTPServer((host, port), self._handler())
        self.server.daemon_threads = True
        self.thread = None

    @property
    def url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def add_account(self, secret_key, webhook_url="", webhook_secret=""):
        self.accounts[secret_key] = Account(secret_key, webhook_url, webhook_secret)
        return self.accounts[secret_key]

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # What Stripe does -------------------------------------------------------------------------

    def emit(self, account, event_type, data_object):
        sent = event(event_type, json.loads(json.dumps(data_object)))
        with self.lock:
            self.events.append((account, sent))
        if self.deliver and account.webhook_url:
            self.send(account, sent)
        return sent

    def send(self, account, sent, *, secret=None, timestamp=None):
        payload = json.dumps(sent)
        signature = sign(payload, secret or account.webhook_secret, timestamp)
        headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
        url = urlsplit(account.webhook_url)
        if url.hostname and (url.hostname == "localhost" or url.hostname.endswith(".localhost")):
            # Browsers resolve *.localhost to loopback, the system resolver may not: connect to
            # 127.0.0.1 and name the organisation in the Host header, as the browser would.
            headers["Host"] = url.netloc
            target = url._replace(netloc=f"127.0.0.1:{url.port or 80}").geturl()
        else:
            target = account.webhook_url
        try:
            response = requests.post(target, data=payload.encode(), headers=headers, timeout=30)
            status = response.status_code
        except requests.RequestException as error:
            status = repr(error)
        with self.lock:
            self.deliveries.append((sent["id"], status))
        return status

    def session_create(self, account, params):
        session_id = "cs_test_" + secrets.token_hex(16)
        line_items = params.get("line_items") or []
        amount = sum(int(item["price_data"]["unit_amount"]) * int(item.get("quantity", 1)) for item in line_items)
        currency = (line_items[0]["price_data"]["currency"] if line_items else "eur").lower()
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": params.get("mode", "payment"),
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": amount,
            "currency": currency,
            "customer_email": params.get("customer_email"),
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata") or {},
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "expires_at": int(params.get("expires_at") or time.time() + 86400),
            "payment_intent": None,
            "url": f"{self.url}/pay/{session_id}",
            "livemode": False,
            "_account": account.secret_key,
            "_line_items": line_items,
        }
        self.sessions[session_id] = session
        return session

    def session_pay(self, session_id):
        payment_intent = "pi_" + secrets.token_hex(12)
        changes = {"status": "complete", "payment_status": "paid", "payment_intent": payment_intent}
        return self._session_close(session_id, "checkout.session.completed", changes)

    def session_expire(self, session_id):
        return self._session_close(session_id, "checkout.session.expired", {"status": "expired"})

    def _session_close(self, session_id, event_type, changes):
        """An open session completes or expires, and its event is sent; None if it is not open."""
        with self.lock:
            session = self.sessions.get(session_id)
            if session is None or session["status"] != "open":
                return None
            session.update(changes)
        self.emit(self.accounts[session["_account"]], event_type, public(session))
        return session

    def refund(self, account, payment_intent):
        session = next(
            (
                s
                for s in self.sessions.values()
                if s["payment_intent"] == payment_intent and s["_account"] == account.secret_key
            ),
            None,
        )
        if session is None:
            return None
        refund = {
            "id": "re_" + secrets.token_hex(12),
            "object": "refund",
            "amount": session["amount_total"],
            "currency": session["currency"],
            "payment_intent": payment_intent,
            "status": "succeeded",
        }
        charge = {
            "id": "ch_" + secrets.token_hex(12),
            "object": "charge",
            "amount": session["amount_total"],
            "amount_refunded": session["amount_total"],
            "currency": session["currency"],
            "payment_intent": payment_intent,
            "refunded": True,
        }
        self.emit(account, "charge.refunded", charge)
        return refund

    # HTTP -------------------------------------------------------------------------------------

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status, body, content_type="application/json", headers=()):
                data = (
                    body
                    if isinstance(body, bytes)
                    else (json.dumps(body) if content_type == "application/json" else body).encode()
                )
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status, message, error_type="invalid_request_error"):
                self._send(status, {"error": {"type": error_type, "message": message}})

            def _body(self):
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length).decode() if length else ""

            def _account(self):
                auth = self.headers.get("Authorization", "")
                key = auth.removeprefix("Bearer ").strip()
                account = fake.accounts.get(key)
                if account is None:
                    self._error(401, "Invalid API Key provided.")
                return account

            def _record(self, account, path, params):
                request = ApiRequest(
                    account.secret_key, self.command, path, params, self.headers.get("Idempotency-Key")
                )
                with fake.lock:
                    fake.requests.append(request)

            def do_GET(self):
                path = urlsplit(self.path).path
                if match := re.fullmatch(r"/pay/([\w]+)", path):
                    return self._pay_page(match[1])
                account = self._account()
                if account is None:
                    return None
                self._record(account, path, {})
                if match := re.fullmatch(r"/v1/checkout/sessions/([\w]+)", path):
                    session = fake.sessions.get(match[1])
                    if session is None or session["_account"] != account.secret_key:
                        return self._error(404, f"No such checkout.session: '{match[1]}'")
                    return self._send(200, public(session))
                return self._error(404, f"Unrecognized request URL (GET: {path}).")

            def do_POST(self):
                path = urlsplit(self.path).path
                body = self._body()
                if match := re.fullmatch(r"/pay/([\w]+)", path):
                    return self._pay(match[1], dict(parse_qsl(body)))
                account = self._account()
                if account is None:
                    return None
                params = parse_form(body)
                self._record(account, path, params)
                if fake.fail_next > 0:
                    fake.fail_next -= 1
                    return self._error(500, "An unknown error occurred", "api_error")
                key = (account.secret_key, self.headers.get("Idempotency-Key"), path)
                if key[1] and key in fake.idempotency:
                    return self._send(200, fake.idempotency[key])
                if path == "/v1/checkout/sessions":
                    if not params.get("line_items") or not params.get("success_url"):
                        return self._error(400, "Missing required param: line_items.")
                    result = public(fake.session_create(account, params))
                elif match := re.fullmatch(r"/v1/checkout/sessions/([\w]+)/expire", path):
                    session = fake.sessions.get(match[1])
                    if session is None or session["_account"] != account.secret_key:
                        return self._error(404, f"No such checkout.session: '{match[1]}'")
                    if fake.session_expire(match[1]) is None:
                        status = session["status"]
                        message = f"Only open Checkout Sessions can be expired; this one is {status}."
                        return self._error(400, message)
                    result = public(session)
                elif path == "/v1/refunds":
                    result = fake.refund(account, params.get("payment_intent", ""))
                    if result is None:
                        return self._error(404, f"No such payment_intent: '{params.get('payment_intent')}'")
                else:
                    return self._error(404, f"Unrecognized request URL (POST: {path}).")
                if key[1]:
                    fake.idempotency[key] = result
                return self._send(200, result)

            def _pay_page(self, session_id):
                session = fake.sessions.get(session_id)
                if session is None:
                    return self._send(404, "<h1>No such session</h1>", "text/html; charset=utf-8")
                amount = f"{session['amount_total'] / 100:.2f} {session['currency'].upper()}"
                names = [
                    (int(item.get("quantity", 1)), item["price_data"].get("product_data", {}).get("name", ""))
                    for item in session["_line_items"]
                ]
                items = "".join(f"<li>{quantity} × {html.escape(name)}</li>" for quantity, name in names)
                page = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Fake Stripe Checkout</title></head>
<body><main><h1>Fake Stripe Checkout</h1><p>Status: <span id="status">{session["status"]}</span></p>
<ul>{items}</ul><p>Total: <strong id="total">{amount}</strong></p>
<form method="post"><button type="submit" name="action" value="pay">Pay {amount}</button>
<button type="submit" name="action" value="cancel">Cancel</button></form></main></body></html>"""
                return self._send(200, page, "text/html; charset=utf-8")

            def _pay(self, session_id, form):
                session = fake.sessions.get(session_id)
                if session is None:
                    return self._send(404, "<h1>No such session</h1>", "text/html; charset=utf-8")
                if form.get("action") == "cancel":
                    return self._send(303, b"", "text/html", [("Location", session["cancel_url"])])
                if fake.session_pay(session_id) is None:
                    return self._send(409, "<h1>This session cannot be paid</h1>", "text/html; charset=utf-8")
                target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
                return self._send(303, b"", "text/html", [("Location", target)])

        return Handler


def public(session):
    return {key: value for key, value in session.items() if not key.startswith("_")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--key", required=True, help="the secret key the organisation enters")
    parser.add_argument("--webhook", required=True, help="the organisation's webhook URL")
    parser.add_argument("--secret", required=True, help="the webhook signing secret the organisation enters")
    args = parser.parse_args()
    fake = FakeStripe(port=args.port)
    fake.add_account(args.key, args.webhook, args.secret)
    print(f"Fake Stripe on {fake.url} (STRIPE_API_BASE={fake.url})", flush=True)
    fake.server.serve_forever()


if __name__ == "__main__":
    main()
