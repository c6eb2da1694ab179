"""Doors to the outside (DESIGN §9): the WeChat official account, Open311 GeoReport v2, the
upper-level exchange and the notification adapters. Each sub-package is its own Django app."""
