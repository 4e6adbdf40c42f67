"""Absolute URLs for emails: the site's base URL and the signed tracking and consent links."""

from urllib.parse import urljoin

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from wagtail.models import Site

from wagtail_journeys.conf import get_setting
from wagtail_journeys.email import tokens
from wagtail_journeys.exceptions import ConfigurationError


def base_url() -> str:
    """The scheme and host every link in an email starts with, without a trailing slash.

    ``WAGTAIL_JOURNEYS["BASE_URL"]`` if set, else the default Wagtail Site's
    root URL, else ``WAGTAILADMIN_BASE_URL``.
    """
    configured = get_setting("BASE_URL")
    if configured:
        return configured.rstrip("/")
    site = Site.objects.filter(is_default_site=True).first()
    if site is not None:
        return site.root_url.rstrip("/")
    fallback = getattr(settings, "WAGTAILADMIN_BASE_URL", "")
    if fallback:
        return fallback.rstrip("/")
    raise ConfigurationError(
        'Set WAGTAIL_JOURNEYS["BASE_URL"] (e.g. "https://shop.example.com"): emails need '
        "absolute links and there is no default Wagtail Site."
    )


def absolute(url: str, base: str | None = None) -> str:
    """``url`` made absolute against the site's base URL (absolute URLs are kept)."""
    return urljoin((base or base_url()) + "/", url)


def _reverse(name: str, token: str, base: str | None) -> str:
    return absolute(reverse(f"wagtail_journeys:{name}", args=[token]), base)


def open_pixel_url(message_id: int, base: str | None = None) -> str:
    """The 1x1 image that records an open of message ``message_id``."""
    return _reverse("open", tokens.make_token(tokens.OPEN, message_id), base)


def click_url(message_id: int, index: int, base: str | None = None) -> str:
    """A redirect to link ``index`` of message ``message_id`` (its ``links``) that records a click.

    The token signs the message, not the link: one signature serves every
    link of an email, and the redirect can only lead to a URL stored with
    that message.
    """
    token = tokens.make_token(tokens.CLICK, message_id)
    return absolute(reverse("wagtail_journeys:click", args=[token, index]), base)


def unsubscribe_url(message_id: int, base: str | None = None) -> str:
    """The unsubscribe link of one message: GET shows a page, POST unsubscribes (RFC 8058)."""
    return _reverse("unsubscribe", tokens.make_token(tokens.UNSUBSCRIBE, message_id), base)


def preferences_url(contact_id: int, base: str | None = None) -> str:
    """The contact's preference centre, reached without logging in."""
    return _reverse("preferences", tokens.make_token(tokens.PREFERENCES, contact_id), base)


def confirm_url(contact_id: int, signup_form_id: int | None, base: str | None = None) -> str:
    """The double opt-in confirmation link of a signup."""
    token = tokens.make_token(tokens.CONFIRM, contact_id, signup_form_id)
    return _reverse("confirm", token, base)


#: Our views whose URL carries a signed token (a key to one contact's data).
_TOKEN_VIEWS = ("open", "unsubscribe", "preferences", "confirm", "restore_cart", "push_click")


def without_token(url: str) -> str:
    """``url`` with the signed token of one of our links replaced by ``…``.

    For what is shown to editors (the clicked links report): a contact's
    cart or preferences link must not become usable by whoever reads it.
    Any other URL is returned as it is.
    """
    marker = "journeys-token"
    for name in _TOKEN_VIEWS:
        try:
            path = reverse(f"wagtail_journeys:{name}", args=[marker])
        except NoReverseMatch:  # a view this site does not route
            continue
        prefix = path.partition(marker)[0]
        start = url.find(prefix)
        if start != -1:
            head = url[: start + len(prefix)]
            _token, slash, tail = url[start + len(prefix) :].partition("/")
            return f"{head}…{slash}{tail}"
    return url
