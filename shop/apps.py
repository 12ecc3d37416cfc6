from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = _("Shop")

    def ready(self):
        from chapters.capabilities import register
        from chapters.services import register_personal_data
        from shop import services

        register("shop.manage_catalogue", _("Manage the shop's products, variants and photos"))
        register(
            "shop.manage_stock",
            _("Receive, adjust and move national stock; set chapters' allowances; read shop reports"),
        )
        register(
            "shop.manage_orders",
            _("Approve, prepare and ship chapter orders; hand over and refund public orders"),
            administrative=True,  # refunds move money
        )
        register("shop.order_for_chapter", _("Order material for the chapter and manage its stock"))
        register(
            "shop.manage_payments",
            _("Set the organisation's Stripe account and how the public pays"),
            administrative=True,
        )
        register_personal_data("shop", collect=services.personal_data, erase=services.personal_data_erase)
