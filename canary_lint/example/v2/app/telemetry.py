import logging

import sentry_sdk
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import Counter

ORDERS = Counter("shop_orders_total", "orders created", ["status"])


def setup(app):
    resource = Resource.create({SERVICE_NAME: "shop"})
    TracerProvider(resource=resource)
    sentry_sdk.init(dsn="https://public@sentry.example.com/1")
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s %(message)s")
