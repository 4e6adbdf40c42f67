"""Behaviour-triggered marketing automation for Wagtail.

The public Python API is importable from here::

    from wagtail_journeys import track, identify, get_cart, get_wishlist, send_email, enroll

The names are resolved lazily so that importing the package does not need the
Django app registry to be ready (settings modules and ``apps.py`` import it).
"""

__version__ = "0.1.0"

__all__ = [
    "enroll",
    "track",
    "identify",
    "get_cart",
    "get_wishlist",
    "send_email",
    "send_emails",
]


def __getattr__(name: str):
    if name in __all__:
        from wagtail_journeys import api

        return getattr(api, name)
    raise AttributeError(f"module 'wagtail_journeys' has no attribute {name!r}")
