"""The example shop: orders, customers, products, payments and what ksqlDB derives
from them. `kctx validate` imports every module of this package."""
