"""Previews of email templates: for a chosen contact, or for a sample one.

The contact of a preview is, in order: ``?contact=<id or email>`` on the
preview URL; the contact last chosen in the admin's "Preview for a contact"
view (kept in the editor's session, so the live preview panel follows it);
else an unsaved sample contact, whose cart and wishlist show sample items.
"""

from __future__ import annotations

from decimal import Decimal

from django.http import HttpRequest

from wagtail_journeys.models.contacts import Contact

#: The session key holding the contact chosen for previews.
SESSION_KEY = "wagtail_journeys_preview_contact"
#: The request attribute set by the preview views from ``?contact=``.
REQUEST_ATTRIBUTE = "journeys_preview_contact"


def sample_contact() -> Contact:
    """An unsaved contact to preview with: nothing about them is looked up."""
    return Contact(
        first_name="Alex",
        last_name="Sample",
        email="alex.sample@example.com",
        status=Contact.Status.SUBSCRIBED,
        custom_fields={},
    )


def sample_cart_items() -> list[dict]:
    """The lines the sample contact's cart and wishlist show."""
    return [
        {
            "title": "Example product",
            "url": "/",
            "image_url": "",
            "price": Decimal("24.00"),
            "currency": "EUR",
            "quantity": 1,
        },
        {
            "title": "Another product",
            "url": "/",
            "image_url": "",
            "price": Decimal("9.50"),
            "currency": "EUR",
            "quantity": 2,
        },
    ]


def find_contact(value) -> Contact | None:
    """The contact with this id or email address, or None (never an error)."""
    value = str(value or "").strip()
    if not value:
        return None
    if value.isdigit():
        return Contact.objects.filter(pk=int(value)).first()
    return Contact.objects.filter(email__iexact=value).first()


def preview_contact(request: HttpRequest | None) -> Contact | None:
    """The contact chosen for previews in this request, or None for the sample contact."""
    if request is None:
        return None
    chosen = getattr(request, REQUEST_ATTRIBUTE, None)
    if not chosen:
        session = getattr(request, "session", None)
        chosen = session.get(SESSION_KEY) if session is not None else None
    return find_contact(chosen)


def sample_email_context():
    """The ``EmailContext`` of a block rendered outside an email (Wagtail's block previews)."""
    from wagtail_journeys.email.context import EmailContext, RenderSession

    return EmailContext(RenderSession(preview=True), sample_contact())


def render_preview(template, contact: Contact | None = None):
    """``template`` rendered as a preview (no tracking, nothing written) for ``contact``."""
    from wagtail_journeys.email.rendering import RenderSession, render_email

    contact = contact or sample_contact()
    return render_email(template, contact, session=RenderSession(preview=True))


def preview_context(template, request: HttpRequest, mode_name: str) -> dict:
    """The context of ``wagtail_journeys/email/preview.html``, for EmailTemplate previews."""
    contact = preview_contact(request)
    return {
        "object": template,
        "request": request,
        "mode": mode_name or "html",
        "contact": contact,
        "email": render_preview(template, contact),
    }
