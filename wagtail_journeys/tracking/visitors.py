"""The visitor behind a request, and the signed cookie that remembers them."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.functional import cached_property

from wagtail_journeys import conf
from wagtail_journeys.models.contacts import Contact
from wagtail_journeys.tracking.privacy import has_consent, is_trackable

COOKIE_SALT = "wagtail_journeys.visitor"


class Visitor:
    """Lazily resolves the contact of one request.

    ``VisitorMiddleware`` attaches one to every request as ``request.journeys``.
    Nothing touches the database until something asks for the contact, and
    then it costs one query.
    """

    def __init__(self, request: HttpRequest):
        self.request = request
        #: The Wagtail page being served, set by the ``on_serve_page`` hook so
        #: that events recorded while it renders point at it.
        self.page = None
        self._set_cookie = False
        self._essential = False

    @cached_property
    def trackable(self) -> bool:
        """Tracking is on, consent was given and this is not a bot."""
        return is_trackable(self.request)

    @cached_property
    def cookie_contact_id(self) -> int | None:
        """The contact id from a valid, unexpired visitor cookie."""
        try:
            value = self.request.get_signed_cookie(
                conf.get_setting("COOKIE_NAME"),
                salt=COOKIE_SALT,
                max_age=conf.get_setting("COOKIE_AGE"),
            )
            return int(value)
        except (KeyError, signing.BadSignature, ValueError):
            return None

    @property
    def known_contact_id(self) -> int | None:
        """The cookie's contact id when the request needs no lookup to be sure of it.

        None without a valid cookie, and with a session cookie: a logged-in
        user's contact may differ from the cookie's (``contact`` links them).
        """
        if settings.SESSION_COOKIE_NAME in self.request.COOKIES:
            return None
        return self.cookie_contact_id

    def _authenticated_user(self):
        # Reading request.user costs a session query, so only look when a
        # session cookie exists: a visitor without one cannot be logged in.
        user = getattr(self.request, "user", None)
        if user is None or settings.SESSION_COOKIE_NAME not in self.request.COOKIES:
            return None
        return user if user.is_authenticated else None

    @cached_property
    def contact(self) -> Contact | None:
        """The contact this request belongs to, or None for a new visitor."""
        user = self._authenticated_user()
        contact = None
        if self.cookie_contact_id is not None:
            contact = Contact.objects.filter(pk=self.cookie_contact_id).first()
        if contact is None and user is not None:
            contact = Contact.objects.filter(user=user).first()
            if contact is not None:
                self._set_cookie = True
        if contact is not None and user is not None and contact.user_id != user.pk:
            from wagtail_journeys.identity import link_user

            contact = link_user(contact, user)
            self._set_cookie = True
        return contact

    def get_or_create_contact(self) -> Contact:
        """The request's contact, creating an anonymous one for a new visitor."""
        contact = self.contact
        if contact is None:
            user = self._authenticated_user()
            contact = Contact.objects.create(
                user=user,
                email=(user.email or None) if user is not None else None,
                last_seen_at=timezone.now(),
            )
            self.set_contact(contact)
        return contact

    def set_contact(self, contact: Contact) -> None:
        """Make ``contact`` this visitor's contact, from this response on."""
        self.__dict__["contact"] = contact
        self._set_cookie = True

    def keep_for_shop(self) -> None:
        """Keep the cookie even without tracking consent: it holds a cart or wishlist.

        A cart is a service the visitor asked for, so its cookie is strictly
        necessary; nothing is *tracked* on the strength of it.
        """
        self._essential = True

    def refresh_cookie(self) -> None:
        """Send the cookie again, so that its age counts from now."""
        self._set_cookie = True

    def update_cookie(self, response: HttpResponse) -> None:
        """Set, refresh or (when consent is withdrawn) delete the visitor cookie.

        Only a refusal of consent deletes it: switching tracking off or a bot
        user agent stops recording but forgets no one's cart.
        """
        name = conf.get_setting("COOKIE_NAME")
        allowed = self.trackable or self._essential
        if self._set_cookie and allowed and self.contact is not None:
            response.set_signed_cookie(
                name,
                str(self.contact.pk),
                salt=COOKIE_SALT,
                max_age=conf.get_setting("COOKIE_AGE"),
                httponly=True,
                samesite="Lax",
                secure=self.request.is_secure(),
            )
        elif (
            name in self.request.COOKIES
            and not self._essential
            and not has_consent(self.request)
            and not self._holds_open_cart()
        ):
            response.delete_cookie(name, samesite="Lax")

    def _holds_open_cart(self) -> bool:
        from wagtail_journeys.models import Cart

        return (
            self.cookie_contact_id is not None
            and Cart.objects.filter(
                contact_id=self.cookie_contact_id, status=Cart.Status.OPEN
            ).exists()
        )


def get_visitor(request: HttpRequest) -> Visitor:
    """The request's ``Visitor``, also when the middleware did not run (tests, shells)."""
    visitor = getattr(request, "journeys", None)
    if visitor is None:
        visitor = request.journeys = Visitor(request)
    return visitor
