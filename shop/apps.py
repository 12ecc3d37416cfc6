from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = _("Shop")

    def ready(self):
        from chapters.capabilities import register
        from chapters.services import register_personal_data
        from shop import capabilities, services

        register(capabilities.MANAGE_CATALOGUE, _("Manage the shop's products, variants and photos"))
        register(
            capabilities.MANAGE_STOCK,
            _("Receive, adjust and move national stock; set chapters' allowances; read shop reports"),
        )
        register(
            capabilities.MANAGE_ORDERS,
            _("Approve, prepare and ship chapter orders; hand over and refund public orders"),
            administrative=True,  # refunds move money
        )
        register(capabilities.ORDER_FOR_CHAPTER, _("Order material for the chapter and manage its stock"))
        register(
            capabilities.MANAGE_PAYMENTS,
            _("Set the organisation's Stripe account and how the public pays"),
            administrative=True,
        )
        register_personal_data("shop", collect=services.personal_data, erase=services.personal_data_erase)

        from chapters import signals
        from shop import receivers

        signals.material_listed.connect(receivers.material_listed, dispatch_uid="shop.material_listed")
        signals.material_handed_out.connect(receivers.material_handed_out, dispatch_uid="shop.material_handed_out")

        from chapters import scope
        from shop import models

        # The warehouse and depots belong to no chapter: the organisation's own.
        for model in (models.Location, models.Allowance, models.ChapterOrder):
            scope.register(model)
        scope.register(models.StockLevel, "location__chapter")
        scope.register(models.StockMove, "from_location__chapter", "to_location__chapter")
        scope.register(models.ChapterOrderLine, "order__chapter")
        scope.register(models.ChapterOrderEvent, "order__chapter")
        scope.register(models.PublicOrder, "collect_chapter")
        scope.register(models.PublicOrderLine, "order__collect_chapter")
