"""The public shop under /shop/, and Stripe's webhook."""

from django.urls import path

from shop import views_public as views

urlpatterns = [
    path("", views.index, name="shop_index"),
    path("p/<slug:slug>/", views.product, name="shop_product"),
    path("cart/", views.cart, name="shop_cart"),
    path("cart/add/", views.cart_add, name="shop_cart_add"),
    path("cart/update/", views.cart_update, name="shop_cart_update"),
    path("checkout/", views.checkout, name="shop_checkout"),
    path("orders/<str:token>/", views.order, name="shop_order"),
    path("orders/<str:token>/cancel/", views.order_cancel, name="shop_order_cancel"),
    path("stripe/webhook/", views.stripe_webhook, name="shop_stripe_webhook"),
]
