"""The shop in the member app, under /app/shop/."""

from django.urls import path, re_path

from shop import views

REFERENCE = r"(?P<reference>[A-Za-z0-9-]{1,20})"
STOCK_ACTION = r"(?P<action>receive|adjust|transfer|depot)"

urlpatterns = [
    path("", views.home, name="shop_home"),
    path("catalogue/", views.catalogue, name="shop_catalogue"),
    path("catalogue/new/", views.product_edit, name="shop_product_create"),
    path("catalogue/<int:pk>/", views.product_edit, name="shop_product_edit"),
    path("catalogue/<int:pk>/variants/", views.variant_add, name="shop_variant_add"),
    path("catalogue/<int:pk>/photos/", views.photo_add, name="shop_photo_add"),
    path("stock/", views.stock, name="shop_stock"),
    path("stock/ledger/", views.stock_ledger, name="shop_stock_ledger"),
    re_path(rf"^stock/{STOCK_ACTION}/$", views.stock_change, name="shop_stock_change"),
    path("allowances/", views.allowances, name="shop_allowances"),
    path("allowances/<int:pk>/", views.allowances, name="shop_allowance_edit"),
    path("chapters/<slug:slug>/order/", views.chapter_order_new, name="shop_order_for_chapter"),
    path("chapters/<slug:slug>/stock/", views.stock, name="shop_chapter_stock"),
    re_path(
        rf"^chapters/(?P<slug>[-a-zA-Z0-9_]+)/stock/{STOCK_ACTION}/$",
        views.stock_change,
        name="shop_chapter_stock_change",
    ),
    path("orders/", views.chapter_orders, name="shop_chapter_orders"),
    re_path(rf"^orders/{REFERENCE}/$", views.chapter_order, name="shop_chapter_order"),
    re_path(
        rf"^orders/{REFERENCE}/(?P<action>approve|refuse|prepare|ship|receive|cancel)/$",
        views.chapter_order_action,
        name="shop_chapter_order_action",
    ),
    path("public-orders/", views.public_orders, name="shop_public_orders"),
    re_path(rf"^public-orders/{REFERENCE}/$", views.public_order, name="shop_public_order"),
    re_path(
        rf"^public-orders/{REFERENCE}/(?P<action>fulfil|cancel|refund)/$",
        views.public_order_action,
        name="shop_public_order_action",
    ),
    path("reports/", views.reports, name="shop_reports"),
    re_path(r"^reports/(?P<name>stock|orders|allowances|sales)/$", views.report, name="shop_report"),
    path("settings/", views.shop_settings, name="shop_settings"),
    path("settings/disconnect-stripe/", views.stripe_disconnect, name="shop_stripe_disconnect"),
]
