"""GDPR: exporting a contact's data and erasing it, by function, command and admin."""

import io
import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.factories import ContactFactory
from wagtail_journeys.email import consent
from wagtail_journeys.gdpr import erase_contact, export_contact, export_contact_json
from wagtail_journeys.models import (
    Cart,
    ConsentRecord,
    Contact,
    DiscountCode,
    Event,
    Message,
    MessageEvent,
    Wishlist,
)
from wagtail_journeys.tracking.events import record_event

pytestmark = pytest.mark.django_db

CLICKED_URL = "https://shop.example.com/cart/restore/?token=secret-ada-token"


@pytest.fixture
def ada(gadget):
    """A contact with something of every kind of personal data."""
    contact = ContactFactory(email="ada@example.com", first_name="Ada", last_name="Lovelace")
    contact.tags.add("vip")
    consent.subscribe(contact, method="form", ip_address="192.0.2.1")
    record_event(contact, "page_viewed", {"path": "/lamps/"})
    cart = Cart.objects.create(contact=contact, currency="EUR")
    cart.add(gadget, quantity=2)
    Wishlist.objects.create(contact=contact).add(gadget)
    DiscountCode.objects.create(contact=contact, block_id="b1", code="ADA-10")
    for n in range(2):
        message = Message.objects.create(
            contact=contact,
            idempotency_key=f"gdpr-{n}",
            status=Message.Status.SENT,
            to_email=contact.email,
            subject=f"Ada, your cart #{n}",
            context={"first_name": "Ada"},
            links=[CLICKED_URL],
            sent_at=timezone.now() - timedelta(days=1),
            first_opened_at=timezone.now(),
        )
        MessageEvent.objects.create(
            message=message,
            kind="opened",
            dedupe_key=f"gdpr-open-{n}",
            detail={"user_agent": "Ada's iPhone"},
        )
        MessageEvent.objects.create(
            message=message, kind="clicked", url=CLICKED_URL, dedupe_key=f"gdpr-click-{n}"
        )
    return contact


@pytest.fixture
def bob():
    contact = ContactFactory(email="bob@example.com")
    record_event(contact, "page_viewed", {})
    Message.objects.create(contact=contact, idempotency_key="bob", to_email=contact.email)
    return contact


def test_export_holds_everything_about_the_contact(ada, bob):
    data = json.loads(export_contact_json(ada))
    assert data["format_version"] == 1
    assert data["contact"]["email"] == "ada@example.com"
    assert data["contact"]["last_name"] == "Lovelace"
    assert data["tags"] == ["vip"]
    assert data["consent_records"][0]["ip_address"] == "192.0.2.1"
    assert {e["name"] for e in data["events"]} == {
        "page_viewed",
        "contact_subscribed",
        "cart_item_added",
        "wishlist_item_added",
    }
    assert [m["subject"] for m in data["messages"]] == ["Ada, your cart #0", "Ada, your cart #1"]
    assert len(data["message_events"]) == 4
    assert data["carts"][0]["items"][0]["quantity"] == 2
    assert data["carts"][0]["items"][0]["title"] == "Widget"
    assert data["wishlists"][0]["items"][0]["title"] == "Widget"
    assert data["discount_codes"][0]["code"] == "ADA-10"
    # Nothing of anyone else.
    assert "bob@example.com" not in json.dumps(data)


def test_export_of_a_contact_with_nothing_else(db):
    data = export_contact(ContactFactory())
    assert data["messages"] == [] and data["carts"] == [] and data["wishlists"] == []


def test_erasure_removes_personal_data_and_keeps_statistics(ada, bob):
    message_ids = set(Message.objects.filter(contact=ada).values_list("pk", flat=True))
    summary = erase_contact(ada)

    assert summary["messages"] == 2 and summary["message_events"] == 4
    assert not Contact.objects.filter(pk=ada.pk).exists()
    assert not Contact.objects.filter(email="ada@example.com").exists()
    assert not Event.objects.filter(contact_id=ada.pk).exists()
    assert not ConsentRecord.objects.filter(contact_id=ada.pk).exists()
    assert not Cart.objects.filter(contact_id=ada.pk).exists()
    assert not Wishlist.objects.filter(contact_id=ada.pk).exists()

    # The statistics: same messages, same opens and clicks, nobody's.
    messages = Message.objects.filter(pk__in=message_ids)
    assert messages.count() == 2
    for message in messages:
        assert message.contact_id is None
        assert (message.to_email, message.subject, message.context, message.links) == (
            "",
            "",
            {},
            [],
        )
        assert message.status == "sent" and message.first_opened_at is not None
    events = MessageEvent.objects.filter(message__in=message_ids)
    assert events.filter(kind="opened").count() == 2
    assert events.filter(kind="clicked").count() == 2
    assert all(event.detail == {} for event in events)
    assert set(events.filter(kind="clicked").values_list("url", flat=True)) == {
        "https://shop.example.com/cart/restore/"
    }
    code = DiscountCode.objects.get(code="ADA-10")
    assert code.contact_id is None
    everything = json.dumps(list(Message.objects.values()), default=str) + json.dumps(
        list(MessageEvent.objects.values()), default=str
    )
    assert "ada@example.com" not in everything and "Ada" not in everything
    assert "secret-ada-token" not in everything

    # Others are untouched.
    bob.refresh_from_db()
    assert bob.events.count() == 1
    assert Message.objects.get(contact=bob).to_email == "bob@example.com"


# Commands


def test_export_command_writes_json_to_stdout_or_a_file(ada, tmp_path):
    out = io.StringIO()
    call_command("journeys_export_contact", "Ada@Example.com", stdout=out)
    assert json.loads(out.getvalue())["contact"]["email"] == "ada@example.com"

    target = tmp_path / "ada.json"
    call_command(
        "journeys_export_contact", "ada@example.com", output=str(target), stderr=io.StringIO()
    )
    assert json.loads(target.read_text())["tags"] == ["vip"]


def test_commands_refuse_an_unknown_address(db):
    with pytest.raises(CommandError, match="No contact"):
        call_command("journeys_export_contact", "nobody@example.com")
    with pytest.raises(CommandError, match="No contact"):
        call_command("journeys_erase_contact", "nobody@example.com", yes=True)


def test_erase_command_asks_first(ada, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    with pytest.raises(CommandError, match="Nothing was erased"):
        call_command("journeys_erase_contact", "ada@example.com")
    assert Contact.objects.filter(pk=ada.pk).exists()

    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    out = io.StringIO()
    call_command("journeys_erase_contact", "ada@example.com", stdout=out)
    assert "Erased ada@example.com" in out.getvalue()
    assert not Contact.objects.filter(pk=ada.pk).exists()


def test_erase_command_with_yes(ada):
    call_command("journeys_erase_contact", "ada@example.com", yes=True, stdout=io.StringIO())
    assert not Contact.objects.filter(pk=ada.pk).exists()
    assert Message.objects.filter(subject="").count() == 2


# Admin


@pytest.fixture
def editor(django_user_model):
    """An admin user who may see contacts, but not export or erase them."""
    user = django_user_model.objects.create_user("editor", password="pw")
    group = Group.objects.create(name="Audience")
    group.permissions.add(
        Permission.objects.get(codename="access_admin"),
        Permission.objects.get(codename="view_contact"),
    )
    user.groups.add(group)
    return user


def denied(response):
    # Wagtail's admin answers PermissionDenied by sending the user to the
    # dashboard with a "you do not have permission" message.
    return response.status_code == 302 and response["Location"] == "/admin/"


def grant(user, codename):
    user.groups.first().permissions.add(Permission.objects.get(codename=codename))


def test_export_and_erase_need_their_own_permissions(client, editor, ada):
    client.force_login(editor)
    listing = client.get("/admin/journeys_contacts/")
    assert listing.status_code == 200
    assert b"ada@example.com" in listing.content
    assert b"Export personal data" not in listing.content
    assert denied(client.get(f"/admin/journeys_contacts/export/{ada.pk}/"))
    assert denied(client.get(f"/admin/journeys_contacts/erase/{ada.pk}/"))
    assert denied(client.post(f"/admin/journeys_contacts/erase/{ada.pk}/"))
    assert Contact.objects.filter(pk=ada.pk).exists()


def test_admin_export_downloads_json(client, editor, ada):
    grant(editor, "export_contact")
    client.force_login(editor)
    assert b"Export personal data" in client.get("/admin/journeys_contacts/").content
    response = client.get(f"/admin/journeys_contacts/export/{ada.pk}/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="contact-{ada.pk}.json"'
    assert json.loads(response.content)["contact"]["email"] == "ada@example.com"
    assert client.get("/admin/journeys_contacts/export/999999/").status_code == 404


def test_admin_erase_confirms_then_erases(client, editor, ada):
    grant(editor, "erase_contact")
    client.force_login(editor)
    page = client.get(f"/admin/journeys_contacts/erase/{ada.pk}/")
    assert page.status_code == 200
    assert b"Yes, erase" in page.content
    assert Contact.objects.filter(pk=ada.pk).exists()

    response = client.post(f"/admin/journeys_contacts/erase/{ada.pk}/")
    assert response.status_code == 302
    assert not Contact.objects.filter(pk=ada.pk).exists()
    assert Message.objects.filter(contact=None).count() == 2


def test_message_log_and_consent_audit_are_read_only(client, django_user_model, ada):
    admin = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(admin)
    log = client.get("/admin/journeys_messages/")
    assert log.status_code == 200
    assert b"Ada, your cart #0" in log.content
    filtered = client.get("/admin/journeys_messages/?status=failed")
    assert b"Ada, your cart #0" not in filtered.content
    message = Message.objects.filter(contact=ada).first()
    assert client.get(f"/admin/journeys_messages/inspect/{message.pk}/").status_code == 200
    assert client.get(f"/admin/journeys_messages/edit/{message.pk}/").status_code == 404
    assert client.get("/admin/journeys_consent/").status_code == 200
    assert client.get("/admin/journeys_consent/new/").status_code == 404
    assert client.get("/admin/journeys_signup_forms/new/").status_code == 200
    assert client.get("/admin/journeys_topics/new/").status_code == 200
