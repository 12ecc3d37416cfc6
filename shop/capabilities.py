"""The shop's capabilities, named once. ShopConfig.ready() registers them with their labels
(chapters.capabilities.register); everything else in the shop uses these constants. The
migration that seeds the default roles keeps its own copy of the names, as migrations must."""

MANAGE_CATALOGUE = "shop.manage_catalogue"
MANAGE_STOCK = "shop.manage_stock"
MANAGE_ORDERS = "shop.manage_orders"
ORDER_FOR_CHAPTER = "shop.order_for_chapter"
MANAGE_PAYMENTS = "shop.manage_payments"

ALL = (MANAGE_CATALOGUE, MANAGE_STOCK, MANAGE_ORDERS, ORDER_FOR_CHAPTER, MANAGE_PAYMENTS)
