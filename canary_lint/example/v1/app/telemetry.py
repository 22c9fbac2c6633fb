import logging
import os

from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider

VERSION = os.environ.get("SHOP_VERSION", "unknown")


def setup(app):
    resource = Resource.create({SERVICE_NAME: "shop", SERVICE_VERSION: VERSION})
    TracerProvider(resource=resource)
    logging.basicConfig(format=f"%(asctime)s %(levelname)s version={VERSION} %(name)s %(message)s")
