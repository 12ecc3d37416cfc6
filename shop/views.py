"""The shop in the member app (/app/shop/): catalogue, stock, chapter orders, public orders,
reports and settings.

Each view loads what it works on or answers 404 (never 403: nobody learns what exists), parses the
form, calls one shop service and renders. Services refuse with NotAllowed (a 404 here) or
InvalidAction (its message, shown on the form or as a message; nothing changed).
"""

import csv
import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from chapters.access import get_chapter_for, require
from chapters.member_files import safe_cell
from chapters.models import Chapter
from chapters.services import InvalidAction, NotAllowed
from shop import access, forms, selectors, services
from shop.capabilities import MANAGE_CATALOGUE, MANAGE_PAYMENTS, MANAGE_STOCK, ORDER_FOR_CHAPTER
from shop.models import Allowance, Location, Product, ShopSettings


def _render(request, template, context, section=""):
    """A shop page, with the tabs of the pages the user may open."""
    context = {**context, "menu": selectors.shop_menu(request.user), "section": section}
    return render(request, f"shop/app/{template}.html", context)


def _page(request, items, per_page=25):
    return Paginator(items, per_page).get_page(request.GET.get("page"))


def _list(request, template, form, items, section, per_page=25, **context):
    """A list page: its filter form, a page of `items`, and whether the filters narrow it (anything
    in the query string but the page)."""
    filtered = any(key != "page" for key in request.GET)
    page = _page(request, items, per_page)
    return _render(request, template, {"form": form, "page": page, "filtered": filtered, **context}, section)


def _order_page(request, template, order, section, **context):
    """An order's page: its lines, the actions the user may take, and their forms."""
    lines = order.lines.select_related("variant__product")
    context = {"order": order, "lines": lines, "cancel_form": forms.CancelForm(prefix="cancel"), **context}
    return _render(request, template, context, section)


def _message(error):
    return " ".join(error.messages)


def _form_errors(form):
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


# Home ---------------------------------------------------------------------------------------------


@login_required
def home(request):
    """What the user can do with the shop: order for their chapters, follow orders, manage."""
    user = request.user
    order_for = selectors.chapters_to_order_for(user)
    follows_orders = access.follows_orders(user)
    return _render(
        request,
        "home",
        {
            "order_for": order_for[:50],
            "order_for_count": order_for.count(),
            "recent_orders": selectors.chapter_orders(user)[:10] if follows_orders else [],
            "follows_orders": follows_orders,
            "holds_any": selectors.holds_any_shop_capability(user),
        },
        "home",
    )


# Catalogue ----------------------------------------------------------------------------------------


@login_required
def catalogue(request):
    require(request.user, MANAGE_CATALOGUE)
    return _render(request, "catalogue", {"page": _page(request, selectors.products())}, "catalogue")


def _product_page(request, product, *, form=None, variant_form=None, photo_form=None):
    return _render(
        request,
        "product_form",
        {
            "product": product,
            "form": form or forms.ProductForm(instance=product),
            "variants": product.variants.all() if product else [],
            "photos": product.photos.select_related("image") if product else [],
            "variant_form": variant_form or forms.VariantForm(),
            "photo_form": photo_form or forms.PhotoForm(),
        },
        "catalogue",
    )


@login_required
@require_http_methods(["GET", "POST"])
def product_edit(request, pk=None):
    require(request.user, MANAGE_CATALOGUE)
    product = get_object_or_404(Product, pk=pk) if pk else None
    initial = {} if product else {"currency": ShopSettings.load().currency}
    form = forms.ProductForm(request.POST or None, instance=product, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.product_save(actor=request.user, product=form.save(commit=False), variants=form.variants())
        except InvalidAction as error:
            form.add_error(None, _message(error))
        except NotAllowed as error:
            raise Http404 from error
        else:
            messages.success(request, _("The product %(name)s was saved.") % {"name": saved.name})
            return redirect("shop_product_edit", pk=saved.pk)
    return _product_page(request, product, form=form)


@login_required
@require_POST
def variant_add(request, pk):
    require(request.user, MANAGE_CATALOGUE)
    product = get_object_or_404(Product, pk=pk)
    form = forms.VariantForm(request.POST)
    if form.is_valid():
        try:
            variant = services.variant_add(actor=request.user, product=product, **form.cleaned_data)
        except InvalidAction as error:
            form.add_error(None, _message(error))
        except NotAllowed as error:
            raise Http404 from error
        else:
            messages.success(request, _("The variant %(variant)s was added.") % {"variant": variant})
            return redirect("shop_product_edit", pk=product.pk)
    return _product_page(request, product, variant_form=form)


@login_required
@require_POST
def photo_add(request, pk):
    require(request.user, MANAGE_CATALOGUE)
    product = get_object_or_404(Product, pk=pk)
    form = forms.PhotoForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.photo_add(actor=request.user, product=product, upload=form.cleaned_data["image"])
        except NotAllowed as error:
            raise Http404 from error
        messages.success(request, _("The photo was added."))
        return redirect("shop_product_edit", pk=product.pk)
    return _product_page(request, product, photo_form=form)


# Stock --------------------------------------------------------------------------------------------


def _stock_chapter(request, slug):
    """The chapter whose own stock the page is about (None: national stock), or 404: national
    stock is for national logistics, a chapter's stock also for who orders for that chapter."""
    if slug is None:
        require(request.user, MANAGE_STOCK)
        return None
    return access.get_stock_chapter_for(request.user, slug)


def _stock_forms(chapter, data=None, posted=None):
    """The stock page's forms, the `posted` one bound to `data`. On a chapter's page the location
    is the chapter's own stock, and transfers go to other chapters."""
    # With their chapter: the national page lists these same places, from the choices (_stock_page).
    locations = None if chapter else Location.objects.select_related("chapter").order_by("kind", "name")
    targets = selectors.transfer_targets()
    if chapter is not None:
        targets = targets.exclude(pk=chapter.pk)
    builders = {
        "receive": lambda bound: forms.ReceiveForm(bound, locations=locations, prefix="receive"),
        "adjust": lambda bound: forms.AdjustForm(bound, locations=locations, prefix="adjust"),
        "transfer": lambda bound: forms.TransferForm(bound, targets=locations, chapters=targets, prefix="transfer"),
    }
    if chapter is None:
        builders["depot"] = lambda bound: forms.DepotForm(bound, prefix="depot")
    return {name: build(data if name == posted else None) for name, build in builders.items()}


def _places(form):
    """The places a stock form offers, as read once for the page's forms (read_choices_once)."""
    return [value.instance for value, _label in form.fields["location"].choices if value]


def _stock_page(request, chapter, stock_forms):
    forms.read_choices_once(*stock_forms.values())
    if chapter is None:
        locations = Location.objects.all()
        location_id = None
    else:  # the chapter's own place, if it has one yet (_stock_chapter read its id with the chapter)
        location_id = chapter.stock_location_id
        locations = Location.objects.filter(pk=location_id)
    return _render(
        request,
        "stock",
        {
            "chapter": chapter,
            "location_id": location_id,
            "levels": _page(request, selectors.stock_levels(locations), 100),
            "moves": selectors.stock_moves(locations)[:10],
            "locations": _places(stock_forms["receive"]) if chapter is None else [],
            **{f"{name}_form": form for name, form in stock_forms.items()},
        },
        "stock",
    )


@login_required
def stock(request, slug=None):
    chapter = _stock_chapter(request, slug)
    return _stock_page(request, chapter, _stock_forms(chapter))


def _stock_apply(action, actor, chapter, data):
    """Call the stock service for `action`; a chapter's page works on that chapter's stock (the
    service creates its location if need be, in the transaction of the move)."""
    if action == "depot":
        depot = services.depot_create(actor=actor, name=data["name"], address=data["address"])
        return _("The depot %(name)s was created.") % {"name": depot.name}
    if action == "receive":
        services.stock_receive(
            actor=actor,
            variant=data["variant"],
            location=data.get("location") or chapter,
            quantity=data["quantity"],
            reason=data["reason"],
        )
        return _("The stock was received.")
    if action == "adjust":
        services.stock_adjust(
            actor=actor,
            variant=data["variant"],
            location=data.get("location") or chapter,
            delta=data["delta"],
            reason=data["reason"],
        )
        return _("The stock was adjusted.")
    target = services.stock_transfer(
        actor=actor,
        variant=data["variant"],
        source=data.get("source") or chapter,
        target=data.get("target_location") or data["target_chapter"],
        quantity=data["quantity"],
        reason=data["reason"],
    )
    return _("The stock was sent to %(target)s.") % {"target": target}


@login_required
@require_POST
def stock_change(request, action, slug=None):
    chapter = _stock_chapter(request, slug)
    stock_forms = _stock_forms(chapter, request.POST, action)
    form = stock_forms.get(action)
    if form is None:
        raise Http404
    if form.is_valid():
        try:
            done = _stock_apply(action, request.user, chapter, form.cleaned_data)
        except InvalidAction as error:
            form.add_error(None, _message(error))
        except NotAllowed as error:
            raise Http404 from error
        else:
            messages.success(request, done)
            return redirect("shop_chapter_stock", slug=chapter.slug) if chapter else redirect("shop_stock")
    messages.error(request, _("Nothing was changed: see the form below."))
    return _stock_page(request, chapter, stock_forms)


@login_required
def stock_ledger(request):
    """The ledger of the locations the user looks after, newest first."""
    user = request.user
    if not selectors.shop_menu(user)["ledger"]:
        raise Http404
    locations = selectors.managed_locations(user)
    form = forms.LedgerFilterForm(request.GET or None, locations=locations)
    location = variant = None
    if form.is_valid():
        location, variant = form.cleaned_data["location"], form.cleaned_data["variant"]
    moves = selectors.stock_moves(locations, location=location, variant=variant)
    return _list(request, "ledger", form, moves, "ledger", 50, locations=locations)


# Allowances ---------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def allowances(request, pk=None):
    """Chapters' allowances with their use; the form adds one, or edits `pk`."""
    require(request.user, MANAGE_STOCK)
    allowance = get_object_or_404(Allowance.objects.select_related("chapter"), pk=pk) if pk else None
    if allowance is None:
        form = forms.AllowanceForm(request.POST or None, chapters=selectors.transfer_targets())
    else:
        initial = {
            "starts": allowance.starts,
            "ends": allowance.ends,
            "budget": allowance.budget,
            "units": allowance.units,
        }
        form = forms.AllowanceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.allowance_save(
                actor=request.user,
                chapter=allowance.chapter if allowance else data["chapter"],
                starts=data["starts"],
                ends=data["ends"],
                budget=data["budget"],
                units=data["units"],
                allowance=allowance,
            )
        except InvalidAction as error:
            form.add_error(None, _message(error))
        except NotAllowed as error:
            raise Http404 from error
        else:
            messages.success(request, _("The allowance was saved."))
            return redirect("shop_allowances")
    page = _page(request, selectors.allowances(), 50)
    for row in page.object_list:
        selectors.allowance_with_use(row)
    return _render(
        request,
        "allowances",
        {"form": form, "allowance": allowance, "page": page, "currency": ShopSettings.load().currency},
        "allowances",
    )


# Chapter orders -----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def chapter_order_new(request, slug):
    chapter = get_chapter_for(request.user, slug, ORDER_FOR_CHAPTER)
    form = forms.ChapterOrderForm(request.POST or None, variants=selectors.orderable_variants())
    if request.method == "POST" and form.is_valid():
        try:
            order = services.chapter_order_request(
                actor=request.user, chapter=chapter, lines=form.lines(), note=form.cleaned_data["note"]
            )
        except InvalidAction as error:
            form.add_error(None, _message(error))
        except NotAllowed as error:
            raise Http404 from error
        else:
            messages.success(
                request, _("Order %(reference)s was sent to national logistics.") % {"reference": order.reference}
            )
            return redirect("shop_chapter_order", reference=order.reference)
    return _render(
        request,
        "order_form",
        {
            "chapter": chapter,
            "form": form,
            "allowance": selectors.allowance_today(chapter),
            "currency": ShopSettings.load().currency,
        },
        "home",
    )


@login_required
def chapter_orders(request):
    user = request.user
    if not access.follows_orders(user):
        raise Http404
    chapters = Chapter.objects.filter(access.order_chapters(user)).order_by("path")
    form = forms.ChapterOrderFilterForm(request.GET or None, chapters=chapters)
    status, chapter = "", None
    if form.is_valid():
        status, chapter = form.cleaned_data["status"], form.cleaned_data["chapter"]
    orders = selectors.chapter_orders(user, status=status, chapter=chapter)
    return _list(request, "chapter_orders", form, orders, "orders")


@login_required
def chapter_order(request, reference):
    order = access.get_chapter_order_for(request.user, reference)
    return _order_page(
        request,
        "chapter_order",
        order,
        "orders",
        events=order.events.select_related("actor"),
        actions=services.chapter_order_actions(request.user, order),
        refuse_form=forms.RefuseForm(prefix="refuse"),
        ship_form=forms.ShipForm(prefix="ship"),
    )


# action in the URL: (form of its details, service, what to tell)
CHAPTER_ORDER_ACTIONS = {
    "approve": (None, services.chapter_order_approve, gettext_lazy("The order is approved; its stock is set aside.")),
    "refuse": (forms.RefuseForm, services.chapter_order_refuse, gettext_lazy("The order is refused.")),
    "prepare": (None, services.chapter_order_prepare, gettext_lazy("The order is marked prepared.")),
    "ship": (forms.ShipForm, services.chapter_order_ship, gettext_lazy("The order is marked shipped.")),
    "receive": (
        None,
        services.chapter_order_receive,
        gettext_lazy("The order is received; the material is in the chapter's stock."),
    ),
    "cancel": (forms.CancelForm, services.chapter_order_cancel, gettext_lazy("The order is cancelled.")),
}


def _order_action(request, order, actions, action, page):
    """A button of an order's page: check its form, call its service, say what happened, and go
    back to the page (`page`, a URL name)."""
    form_class, service, done = actions[action]
    form = form_class(request.POST, prefix=action) if form_class else None
    if form is not None and not form.is_valid():
        messages.error(request, _("Nothing was changed: %(errors)s") % {"errors": _form_errors(form)})
        return redirect(page, reference=order.reference)
    # A confirmation box guards the action; it is not one of its details.
    details = {} if form is None or isinstance(form, forms.ConfirmForm) else form.cleaned_data
    try:
        service(actor=request.user, order=order, **details)
    except InvalidAction as error:
        messages.error(request, _message(error))
    except NotAllowed as error:
        raise Http404 from error
    else:
        messages.success(request, done)
    return redirect(page, reference=order.reference)


@login_required
@require_POST
def chapter_order_action(request, reference, action):
    order = access.get_chapter_order_for(request.user, reference)
    return _order_action(request, order, CHAPTER_ORDER_ACTIONS, action, "shop_chapter_order")


# Public orders ------------------------------------------------------------------------------------


@login_required
def public_orders(request):
    user = request.user
    if not access.follows_orders(user):
        raise Http404
    form = forms.PublicOrderFilterForm(request.GET or None)
    status = form.cleaned_data["status"] if form.is_valid() else ""
    return _list(request, "public_orders", form, selectors.public_orders(user, status=status), "public_orders")


@login_required
def public_order(request, reference):
    order = access.get_public_order_for(request.user, reference)
    return _order_page(
        request,
        "public_order",
        order,
        "public_orders",
        actions=selectors.public_order_actions(request.user, order),
        refund_form=forms.ConfirmForm(prefix="refund"),
    )


PUBLIC_ORDER_ACTIONS = {
    "fulfil": (None, services.public_order_fulfil, gettext_lazy("The order is marked sent or handed over.")),
    "cancel": (forms.CancelForm, services.public_order_cancel, gettext_lazy("The order is cancelled.")),
    "refund": (forms.ConfirmForm, services.public_order_refund, gettext_lazy("The order is refunded.")),
}


@login_required
@require_POST
def public_order_action(request, reference, action):
    order = access.get_public_order_for(request.user, reference)
    return _order_action(request, order, PUBLIC_ORDER_ACTIONS, action, "shop_public_order")


# Reports ------------------------------------------------------------------------------------------


def _require_reports(user):
    if not access.reads_reports(user):
        raise Http404


@login_required
def reports(request):
    _require_reports(request.user)
    return _render(request, "reports", {"reports": selectors.REPORTS}, "reports")


def _csv_value(cell):
    return safe_cell(cell.isoformat() if isinstance(cell, datetime.date) else cell)


@login_required
def report(request, name):
    _require_reports(request.user)
    if name not in selectors.REPORTS:
        raise Http404
    starts, ends = selectors.this_year(timezone.localdate())
    form = forms.PeriodForm(request.GET or None, initial={"starts": starts, "ends": ends})
    if form.is_valid():
        starts = form.cleaned_data["starts"] or starts
        ends = form.cleaned_data["ends"] or ends
    columns, rows = selectors.report(name, starts, ends)
    if request.GET.get("format") == "csv":
        filename = f"shop-{name}-{starts}-{ends}.csv" if name in selectors.DATED_REPORTS else f"shop-{name}.csv"
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response.write("\ufeff")  # so that spreadsheet applications read UTF-8
        writer = csv.writer(response)
        writer.writerow(safe_cell(column) for column in columns)
        writer.writerows([_csv_value(cell) for cell in row] for row in rows)
        return response
    return _render(
        request,
        "report",
        {
            "name": name,
            "title": selectors.REPORTS[name],
            "dated": name in selectors.DATED_REPORTS,
            "form": form,
            "starts": starts,
            "ends": ends,
            "columns": columns,
            "rows": rows,
            "csv_query": _csv_query(request, starts, ends),
        },
        "reports",
    )


def _csv_query(request, starts, ends):
    query = request.GET.copy()
    query["format"] = "csv"
    query.setdefault("starts", starts.isoformat())
    query.setdefault("ends", ends.isoformat())
    return query.urlencode()


# Settings -----------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def shop_settings(request):
    """How the public pays. The Stripe secrets are never shown back, only their hints."""
    require(request.user, MANAGE_PAYMENTS)
    row = ShopSettings.load()
    initial = {
        "currency": row.currency,
        "collect_at_chapters": row.collect_at_chapters,
        "shop_contact": row.shop_contact,
        "publishable_key": row.stripe_publishable_key,
    }
    form = forms.ShopSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.settings_save(actor=request.user, **form.cleaned_data)
        except NotAllowed as error:
            raise Http404 from error
        messages.success(request, _("The shop settings were saved."))
        return redirect("shop_settings")
    return _render(
        request,
        "settings",
        {
            "form": form,
            "row": row,
            "webhook_url": request.build_absolute_uri("/shop/stripe/webhook/"),
            "disconnect_form": forms.ConfirmForm(prefix="disconnect"),
        },
        "settings",
    )


@login_required
@require_POST
def stripe_disconnect(request):
    require(request.user, MANAGE_PAYMENTS)
    form = forms.ConfirmForm(request.POST, prefix="disconnect")
    if not form.is_valid():
        messages.error(request, _("Tick the box to confirm: nothing was changed."))
        return redirect("shop_settings")
    try:
        services.stripe_disconnect(actor=request.user)
    except NotAllowed as error:
        raise Http404 from error
    messages.success(request, _("Stripe is disconnected: the public can no longer pay by card."))
    return redirect("shop_settings")
