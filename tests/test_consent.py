"""Unsubscribing (link and RFC 8058 one-click), the preference centre and double opt-in."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.test import Client, RequestFactory
from django.utils import timezone

from tests.factories import ContactFactory
from wagtail_journeys.email import consent, links, tokens
from wagtail_journeys.models import (
    ConsentRecord,
    Contact,
    Event,
    Message,
    MessageEvent,
    SignupForm,
    Topic,
)

pytestmark = pytest.mark.django_db

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def csrf_client():
    """A client that, like a browser, must send the CSRF token our forms carry."""
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def subscribed():
    return ContactFactory(status=Contact.Status.SUBSCRIBED, consent={"email": True})


@pytest.fixture
def message(subscribed):
    return Message.objects.create(
        contact=subscribed,
        idempotency_key="consent-test",
        status=Message.Status.SENT,
        to_email=subscribed.email,
        sent_at=timezone.now() - timedelta(hours=1),
    )


@pytest.fixture
def topics(db):
    return [
        Topic.objects.create(name="Offers", slug="offers"),
        Topic.objects.create(name="News", slug="news"),
    ]


def path_of(url):
    return "/" + url.split("/", 3)[3]


def csrf_token(client):
    return client.cookies["csrftoken"].value


# Unsubscribe


def test_get_asks_before_unsubscribing(client, message, subscribed):
    response = client.get(path_of(links.unsubscribe_url(message.pk)))
    assert response.status_code == 200
    content = response.content.decode()
    assert subscribed.email in content
    assert 'method="post"' in content and "csrfmiddlewaretoken" in content
    assert path_of(links.preferences_url(subscribed.pk)) in content
    subscribed.refresh_from_db()
    assert subscribed.status == Contact.Status.SUBSCRIBED
    assert not ConsentRecord.objects.exists()


def test_one_click_post_unsubscribes_without_cookies_or_csrf(csrf_client, message, subscribed):
    # What Gmail and Yahoo send (RFC 8058): a bare POST, no cookie, no token.
    response = csrf_client.post(
        path_of(links.unsubscribe_url(message.pk)), ONE_CLICK, REMOTE_ADDR="203.0.113.9"
    )
    assert response.status_code == 200
    subscribed.refresh_from_db()
    assert subscribed.status == Contact.Status.UNSUBSCRIBED
    assert subscribed.consent["email"] is False
    record = ConsentRecord.objects.get()
    assert (record.granted, record.method, record.ip_address, record.channel) == (
        False,
        "one_click",
        "203.0.113.9",
        "email",
    )
    assert record.detail == {"message_id": message.pk}
    assert MessageEvent.objects.get(message=message).kind == "unsubscribed"
    event = Event.objects.get(name="unsubscribed")
    assert event.properties["message_id"] == message.pk
    assert event.properties["method"] == "one_click"


def test_one_click_is_idempotent(csrf_client, message, subscribed):
    path = path_of(links.unsubscribe_url(message.pk))
    for _ in range(3):
        assert csrf_client.post(path, ONE_CLICK).status_code == 200
    assert ConsentRecord.objects.count() == 1
    assert MessageEvent.objects.count() == 1
    assert Event.objects.filter(name="unsubscribed").count() == 1


def test_one_click_also_accepts_multipart(csrf_client, message, subscribed):
    # RFC 8058 allows either form encoding; Django's test client posts multipart.
    csrf_client.post(
        path_of(links.unsubscribe_url(message.pk)),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    subscribed.refresh_from_db()
    assert subscribed.status == Contact.Status.UNSUBSCRIBED


def test_the_pages_own_form_needs_its_csrf_token(csrf_client, message, subscribed):
    path = path_of(links.unsubscribe_url(message.pk))
    assert csrf_client.post(path, {}).status_code == 403
    subscribed.refresh_from_db()
    assert subscribed.status == Contact.Status.SUBSCRIBED

    csrf_client.get(path)
    response = csrf_client.post(path, {"csrfmiddlewaretoken": csrf_token(csrf_client)})
    assert response.status_code == 200
    assert b"You are unsubscribed" in response.content
    subscribed.refresh_from_db()
    assert subscribed.status == Contact.Status.UNSUBSCRIBED
    assert ConsentRecord.objects.get().method == "unsubscribe_link"


def test_unsubscribing_stops_marketing_but_keeps_a_bounce(csrf_client, message, subscribed):
    subscribed.status = Contact.Status.BOUNCED
    subscribed.save()
    csrf_client.post(path_of(links.unsubscribe_url(message.pk)), ONE_CLICK)
    subscribed.refresh_from_db()
    assert subscribed.status == Contact.Status.BOUNCED
    assert subscribed.consent["email"] is False


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_bad_unsubscribe_token_is_a_clear_400(client, message, method):
    other_purpose = tokens.make_token(tokens.OPEN, message.pk)
    for token in ("nonsense", other_purpose):
        response = getattr(client, method)(f"/journeys/u/{token}/", ONE_CLICK)
        assert response.status_code == 400
        assert b"This link does not work" in response.content
    assert not ConsentRecord.objects.exists()


def test_unsubscribe_link_of_an_erased_contact_answers_without_error(client, message):
    message.contact.delete()
    response = client.post(path_of(links.unsubscribe_url(message.pk)), ONE_CLICK)
    assert response.status_code == 200


# Preference centre


def test_preference_centre_shows_the_contacts_choices(client, subscribed, topics):
    subscribed.topics_left.add(topics[0])
    response = client.get(path_of(links.preferences_url(subscribed.pk)))
    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["email"] is True
    assert form.initial["topics"] == [topics[1].pk]
    assert "channel_sms" not in form.fields
    assert b"Offers" in response.content and b"News" in response.content


def test_preference_centre_post_needs_the_csrf_token(csrf_client, subscribed, topics):
    path = path_of(links.preferences_url(subscribed.pk))
    response = csrf_client.post(path, {"email": "on", "fewer": "on"})
    assert response.status_code == 403
    subscribed.refresh_from_db()
    assert subscribed.email_frequency == "normal"


def test_preference_centre_saves_each_change_with_a_record(csrf_client, subscribed, topics):
    path = path_of(links.preferences_url(subscribed.pk))
    csrf_client.get(path)
    response = csrf_client.post(
        path,
        {
            "csrfmiddlewaretoken": csrf_token(csrf_client),
            "email": "on",
            "topics": [topics[1].pk],
            "fewer": "on",
        },
        REMOTE_ADDR="198.51.100.4",
        follow=True,
    )
    assert response.status_code == 200
    assert b"Your preferences are saved." in response.content
    subscribed.refresh_from_db()
    assert list(subscribed.topics_left.all()) == [topics[0]]
    assert subscribed.email_frequency == "fewer"
    assert subscribed.status == Contact.Status.SUBSCRIBED
    records = ConsentRecord.objects.order_by("pk")
    assert [(r.topic, r.granted, r.method) for r in records] == [
        (topics[0], False, "preference_centre"),
        (None, True, "preference_centre"),
    ]
    assert records[1].detail == {"email_frequency": "fewer"}
    assert {r.ip_address for r in records} == {"198.51.100.4"}

    # Joining the topic again is recorded as a change too.
    csrf_client.post(
        path,
        {
            "csrfmiddlewaretoken": csrf_token(csrf_client),
            "email": "on",
            "topics": [topics[0].pk, topics[1].pk],
            "fewer": "on",
        },
    )
    assert not subscribed.topics_left.exists()
    assert ConsentRecord.objects.filter(topic=topics[0], granted=True).count() == 1


def test_preference_centre_can_withdraw_and_give_email_consent(csrf_client, subscribed):
    path = path_of(links.preferences_url(subscribed.pk))
    csrf_client.get(path)
    csrf_client.post(path, {"csrfmiddlewaretoken": csrf_token(csrf_client)})
    subscribed.refresh_from_db()
    assert subscribed.status == Contact.Status.UNSUBSCRIBED
    assert Event.objects.filter(name="unsubscribed").count() == 1

    csrf_client.post(path, {"csrfmiddlewaretoken": csrf_token(csrf_client), "email": "on"})
    subscribed.refresh_from_db()
    assert subscribed.status == Contact.Status.SUBSCRIBED
    assert subscribed.consent["email"] is True
    assert Event.objects.filter(name="contact_subscribed").count() == 1


def test_other_channels_appear_once_the_contact_has_one(csrf_client, subscribed):
    subscribed.consent = {"email": True, "sms": True}
    subscribed.save()
    path = path_of(links.preferences_url(subscribed.pk))
    response = csrf_client.get(path)
    assert response.context["form"].initial["channel_sms"] is True
    csrf_client.post(path, {"csrfmiddlewaretoken": csrf_token(csrf_client), "email": "on"})
    subscribed.refresh_from_db()
    assert subscribed.consent == {"email": True, "sms": False}
    assert ConsentRecord.objects.get().channel == "sms"


def test_unsubscribe_from_all(csrf_client, subscribed):
    subscribed.consent = {"email": True, "sms": True}
    subscribed.save()
    path = path_of(links.preferences_url(subscribed.pk))
    csrf_client.get(path)
    response = csrf_client.post(
        path,
        {"csrfmiddlewaretoken": csrf_token(csrf_client), "email": "on", "unsubscribe_all": "1"},
        follow=True,
    )
    assert b"unsubscribed from all" in response.content
    subscribed.refresh_from_db()
    assert subscribed.status == Contact.Status.UNSUBSCRIBED
    assert subscribed.consent == {"email": False, "sms": False}
    assert ConsentRecord.objects.filter(granted=False).count() == 2


def test_preference_centre_shows_errors_for_bad_input(csrf_client, subscribed, topics):
    path = path_of(links.preferences_url(subscribed.pk))
    csrf_client.get(path)
    response = csrf_client.post(
        path, {"csrfmiddlewaretoken": csrf_token(csrf_client), "topics": ["999", "x"]}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["topics"]
    assert not ConsentRecord.objects.exists()


def test_a_bad_preferences_token_is_a_clear_400(client, subscribed):
    other_purpose = tokens.make_token(tokens.UNSUBSCRIBE, subscribed.pk)
    for token in ("nonsense", other_purpose, tokens.make_token(tokens.PREFERENCES, "1")):
        response = client.get(f"/journeys/p/{token}/")
        assert response.status_code == 400
        assert b"This link does not work" in response.content


# Signups and double opt-in


@pytest.fixture
def double_opt_in(signup_page, topics):
    signup = SignupForm.objects.create(page=signup_page, double_opt_in=True)
    signup.topics.add(topics[0])
    return signup


def submit(client, page, email="ada@example.com"):
    return client.post(page.url, {"email": email, "name": "Ada"}, REMOTE_ADDR="192.0.2.1")


def confirm_link_from(email_message):
    match = re.search(r"https?://[^/\s]+(/journeys/confirm/[^/\s\"]+/)", email_message.body)
    assert match, email_message.body
    return match.group(1)


def test_double_opt_in_sends_a_confirmation_and_waits(
    client, double_opt_in, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(client, double_opt_in.page)
    assert response.status_code == 200
    contact = Contact.objects.get(email="ada@example.com")
    assert contact.status == Contact.Status.PENDING
    assert not ConsentRecord.objects.exists()
    assert not Event.objects.filter(name="contact_subscribed").exists()

    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["ada@example.com"]
    assert "confirm" in email.subject.lower()
    html = email.alternatives[0][0]
    path = confirm_link_from(email)
    assert path in html


def test_following_the_link_does_not_confirm_only_the_button_does(
    client, double_opt_in, topics, django_capture_on_commit_callbacks
):
    contact = ContactFactory(email="ada@example.com")
    contact.topics_left.add(topics[0])
    with django_capture_on_commit_callbacks(execute=True):
        submit(client, double_opt_in.page)
    path = confirm_link_from(mail.outbox[0])

    # A link scanner (or the person) opens the link: nothing is confirmed yet.
    response = client.get(path)
    assert response.status_code == 200
    assert b'method="post"' in response.content
    contact.refresh_from_db()
    assert contact.status == Contact.Status.PENDING

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.get(path)
    response = csrf_client.post(
        path, {"csrfmiddlewaretoken": csrf_token(csrf_client)}, REMOTE_ADDR="192.0.2.55"
    )
    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.status == Contact.Status.SUBSCRIBED
    assert contact.consent["email"] is True
    assert not contact.topics_left.exists()
    email_record = ConsentRecord.objects.get(topic=None)
    assert (email_record.method, email_record.granted, email_record.ip_address) == (
        "double_opt_in",
        True,
        "192.0.2.55",
    )
    assert email_record.detail["signup_form"] == double_opt_in.pk
    assert ConsentRecord.objects.get(topic=topics[0]).granted is True
    assert Event.objects.filter(name="contact_subscribed", contact=contact).count() == 1

    # Confirming twice changes and records nothing more.
    csrf_client.post(path, {"csrfmiddlewaretoken": csrf_token(csrf_client)})
    assert ConsentRecord.objects.count() == 2
    assert Event.objects.filter(name="contact_subscribed").count() == 1


def test_confirm_post_needs_the_csrf_token(double_opt_in, django_capture_on_commit_callbacks):
    contact = ContactFactory(email="ada@example.com")
    path = path_of(links.confirm_url(contact.pk, double_opt_in.pk))
    assert Client(enforce_csrf_checks=True).post(path).status_code == 403
    contact.refresh_from_db()
    assert contact.status == Contact.Status.PENDING


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_expired_confirmation_is_refused(client, settings, double_opt_in, method):
    contact = ContactFactory(email="ada@example.com")
    path = path_of(links.confirm_url(contact.pk, double_opt_in.pk))
    settings.WAGTAIL_JOURNEYS = {"CONFIRMATION_MAX_AGE": -1}
    response = getattr(client, method)(path)
    assert response.status_code == 400
    assert b"expired" in response.content
    contact.refresh_from_db()
    assert contact.status == Contact.Status.PENDING


def test_a_forged_confirmation_is_refused(client, double_opt_in):
    contact = ContactFactory(email="ada@example.com")
    for token in ("nonsense", tokens.make_token(tokens.PREFERENCES, contact.pk, None)):
        assert client.post(f"/journeys/confirm/{token}/").status_code == 400
    contact.refresh_from_db()
    assert contact.status == Contact.Status.PENDING


def test_single_opt_in_subscribes_at_once(
    client, signup_page, topics, django_capture_on_commit_callbacks
):
    signup = SignupForm.objects.create(page=signup_page, double_opt_in=False)
    signup.topics.add(topics[1])
    with django_capture_on_commit_callbacks(execute=True):
        submit(client, signup_page)
    contact = Contact.objects.get(email="ada@example.com")
    assert contact.status == Contact.Status.SUBSCRIBED
    record = ConsentRecord.objects.get(topic=None)
    assert (record.method, record.ip_address) == ("form", "192.0.2.1")
    assert record.source == f"http://testserver{signup_page.url}"
    assert record.detail == {"signup_form": signup.pk, "topics": ["news"]}
    event = Event.objects.get(name="contact_subscribed")
    assert event.properties == {"method": "form", "topics": ["news"]}
    assert not mail.outbox


def test_a_subscribed_contact_gets_no_confirmation(
    client, double_opt_in, django_capture_on_commit_callbacks
):
    ContactFactory(email="ada@example.com", status=Contact.Status.SUBSCRIBED)
    with django_capture_on_commit_callbacks(execute=True):
        submit(client, double_opt_in.page)
    assert not mail.outbox
    assert Contact.objects.get(email="ada@example.com").status == Contact.Status.SUBSCRIBED


def test_forms_that_are_not_signups_subscribe_nobody(
    client, enquiry_page, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        submit(client, enquiry_page)
    assert Contact.objects.get(email="ada@example.com").status == Contact.Status.PENDING
    assert not ConsentRecord.objects.exists()
    assert not mail.outbox


def test_the_builtin_confirmation_uses_the_brand(
    client, double_opt_in, django_capture_on_commit_callbacks
):
    from wagtail.models import Site

    from wagtail_journeys.models import EmailBrandSettings

    brand = EmailBrandSettings.for_site(Site.objects.get(is_default_site=True))
    brand.company_name = "Kettle & Bean"
    brand.primary_colour = "#8c4a2f"
    brand.save()
    with django_capture_on_commit_callbacks(execute=True):
        submit(client, double_opt_in.page)
    [email] = mail.outbox
    # A subject is plain text: the ampersand must not arrive as "&amp;".
    assert email.subject == "Please confirm your subscription to Kettle & Bean"
    assert "background:#8c4a2f" in email.alternatives[0][0]


# Dated in the past: ``at=``

PAST = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def test_subscribe_and_unsubscribe_can_be_dated_in_the_past(message, subscribed, topics):
    contact = ContactFactory()
    contact.topics_left.add(topics[0])
    consent.subscribe(contact, method="import", topics=topics, at=PAST)
    consent.unsubscribe(
        subscribed, method="unsubscribe_link", message=message, at=PAST + timedelta(hours=1)
    )

    records = ConsentRecord.objects.order_by("pk")
    assert [(r.granted, r.topic_id, r.created_at) for r in records] == [
        (True, None, PAST),
        (True, topics[0].pk, PAST),
        (False, None, PAST + timedelta(hours=1)),
    ]
    assert Event.objects.get(name="contact_subscribed").occurred_at == PAST
    assert Event.objects.get(name="unsubscribed").occurred_at == PAST + timedelta(hours=1)
    unsubscribed = MessageEvent.objects.get(kind=MessageEvent.Kind.UNSUBSCRIBED)
    assert unsubscribed.occurred_at == PAST + timedelta(hours=1)


def test_a_signup_and_a_confirmation_can_be_dated_in_the_past(signup_page):
    signup = SignupForm.objects.create(page=signup_page, double_opt_in=False)
    request = RequestFactory().post("/", REMOTE_ADDR="192.0.2.1")
    ada = ContactFactory(email="ada@example.com")
    consent.signup_from_form(request, ada, signup_page, at=PAST)
    bob = ContactFactory(email="bob@example.com")
    consent.confirm_signup(bob, signup, at=PAST + timedelta(minutes=20))

    assert ConsentRecord.objects.get(contact=ada).created_at == PAST
    assert ConsentRecord.objects.get(contact=bob).created_at == PAST + timedelta(minutes=20)
    subscribed_at = dict(
        Event.objects.filter(name="contact_subscribed").values_list("contact", "occurred_at")
    )
    assert subscribed_at == {ada.pk: PAST, bob.pk: PAST + timedelta(minutes=20)}


def test_a_confirmation_email_is_queued_at_the_signups_time(double_opt_in):
    from tests.journey_helpers import email_template

    double_opt_in.confirmation_template = email_template(name="Confirm", kind="transactional")
    double_opt_in.save()
    contact = ContactFactory(email="ada@example.com")
    request = RequestFactory().post("/", REMOTE_ADDR="192.0.2.1")
    consent.signup_from_form(request, contact, double_opt_in.page, at=PAST)
    assert Message.objects.get(contact=contact).created_at == PAST


@pytest.mark.parametrize(
    ("at", "error"), [(datetime(2026, 3, 10, 15, 0), ValueError), (PAST.date(), TypeError)]
)
def test_consent_refuses_a_time_that_is_not_an_aware_datetime(subscribed, at, error):
    with pytest.raises(error, match="at must be"):
        consent.unsubscribe(subscribed, method="unsubscribe_link", at=at)
    with pytest.raises(error, match="at must be"):
        consent.subscribe(ContactFactory(), method="import", at=at)
    assert not ConsentRecord.objects.exists()
    assert not Event.objects.exists()
