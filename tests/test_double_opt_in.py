"""Double opt-in with a site's own confirmation email, from the form page to the subscription.

A visitor submits a signup form page; the signup form's confirmation template
(a button to ``{{ confirm_url }}``, merge fields) is queued and delivered by
the django-q2 task; GET on its link only asks, POST subscribes. The admin
refuses a confirmation template that could never be confirmed.
"""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from wagtail.test.utils.form_data import nested_form_data, rich_text, streamfield

from tests.factories import ContactFactory
from wagtail_journeys.email import tokens
from wagtail_journeys.models import (
    ConsentRecord,
    Contact,
    EmailTemplate,
    Event,
    Message,
    SignupForm,
    Topic,
)

pytestmark = pytest.mark.django_db

BASE = "https://shop.example.com"
LABEL = "Yes, subscribe {{ contact.email }}"
CONFIRM_RE = re.compile(
    r'<a class="button" href="(https://shop\.example\.com/journeys/confirm/[^"]+)"'
)


def button(url="{{ confirm_url }}", label=LABEL):
    return {"type": "button", "value": {"label": label, "page": None, "url": url}}


def text(html):
    return {"type": "text", "value": html}


def make_template(body, kind="transactional", **fields):
    template = EmailTemplate(
        name=fields.pop("name", "Confirm your subscription"),
        subject=fields.pop("subject", "{{ contact.first_name }}, one more step"),
        kind=kind,
        body=body,
        **fields,
    )
    template.save()
    template.save_revision(log_action=False)
    # Read back as the sender does: block values come from the database.
    return EmailTemplate.objects.get(pk=template.pk)


CONFIRMATION_BODY = [
    {"type": "heading", "value": {"text": "Almost there, {{ contact.first_name }}", "level": "h1"}},
    text('<p>Greetings to {{ contact.custom.city|default:"your town" }}.</p>'),
    button(),
]


@pytest.fixture
def topics(db):
    return [
        Topic.objects.create(name="Offers", slug="offers"),
        Topic.objects.create(name="News", slug="news"),
    ]


@pytest.fixture
def signup(journeys_mail, signup_page, topics):
    signup = SignupForm.objects.create(
        page=signup_page,
        double_opt_in=True,
        confirmation_template=make_template(CONFIRMATION_BODY),
    )
    signup.topics.add(topics[0])
    return signup


@pytest.fixture
def ada(topics):
    contact = ContactFactory(
        email="ada@example.com", first_name="Ada", custom_fields={"city": "Lyon"}
    )
    # She left "Offers" once; signing up for it again joins it.
    contact.topics_left.add(topics[0])
    return contact


def submit(client, page, capture):
    """Submit the form page as a browser does, and run what it sets off (delivery included)."""
    with capture(execute=True):
        response = client.post(
            page.url, {"email": "ada@example.com", "name": "Ada"}, REMOTE_ADDR="192.0.2.1"
        )
    assert response.status_code == 200
    return response


def confirm_path(email):
    """The path of the confirmation button in a delivered email (the HTML part)."""
    [(html, _mimetype)] = email.alternatives
    match = CONFIRM_RE.search(html)
    assert match, html
    return match.group(1).removeprefix(BASE)


def headers_of(email):
    return {**email.extra_headers, **email.anymail_test_params.get("extra_headers", {})}


def csrf_post(client, path, **extra):
    client.get(path)
    return client.post(path, {"csrfmiddlewaretoken": client.cookies["csrftoken"].value}, **extra)


# The whole way


def test_a_signup_is_confirmed_through_the_sites_own_email(
    client, signup, ada, topics, django_capture_on_commit_callbacks
):
    submit(client, signup.page, django_capture_on_commit_callbacks)
    ada.refresh_from_db()
    assert ada.status == Contact.Status.PENDING
    assert not ConsentRecord.objects.exists()

    # The delivery task ran: the confirmation is sent, as transactional mail.
    message = Message.objects.get(contact=ada)
    assert (message.status, message.kind) == (Message.Status.SENT, "transactional")
    assert message.template == signup.confirmation_template
    [email] = mail.outbox
    assert email.to == ["ada@example.com"]
    assert email.subject == "Ada, one more step"
    [(html, _mimetype)] = email.alternatives
    assert "Almost there, Ada" in html and "Greetings to Lyon." in html
    assert "Yes, subscribe ada@example.com" in html
    path = confirm_path(email)
    # The button goes straight to the confirmation, not through the click redirect,
    # and the text part has the same link.
    assert path.startswith("/journeys/confirm/")
    assert f"Yes, subscribe ada@example.com: {BASE}{path}" in email.body
    assert "Almost there, Ada" in email.body and "Greetings to Lyon." in email.body
    # A confirmation is not marketing: no unsubscribe footer or header.
    assert "Unsubscribe" not in html and "Unsubscribe" not in email.body
    assert "List-Unsubscribe" not in headers_of(email)

    # Opening the link (a person, or a scanner) only asks.
    response = client.get(path)
    assert response.status_code == 200
    assert b'method="post"' in response.content and b"ada@example.com" in response.content
    ada.refresh_from_db()
    assert ada.status == Contact.Status.PENDING
    assert not ConsentRecord.objects.exists()
    assert not Event.objects.filter(name="contact_subscribed").exists()

    # The button of that page subscribes, with a CSRF-checked POST.
    browser = Client(enforce_csrf_checks=True)
    response = csrf_post(browser, path, REMOTE_ADDR="192.0.2.55")
    assert response.status_code == 200
    ada.refresh_from_db()
    assert ada.status == Contact.Status.SUBSCRIBED
    assert ada.consent["email"] is True
    assert not ada.topics_left.exists()
    record = ConsentRecord.objects.get(topic=None)
    assert (record.granted, record.method, record.ip_address) == (
        True,
        "double_opt_in",
        "192.0.2.55",
    )
    assert record.detail == {"signup_form": signup.pk, "topics": ["offers"]}
    assert ConsentRecord.objects.get(topic=topics[0]).granted is True
    assert Event.objects.filter(name="contact_subscribed", contact=ada).count() == 1

    # A second confirmation (a double click, the link again) is harmless.
    response = csrf_post(browser, path)
    assert response.status_code == 200
    assert ConsentRecord.objects.count() == 2
    assert Event.objects.filter(name="contact_subscribed").count() == 1
    assert len(mail.outbox) == 1


def altered(token):
    """``token`` with one character of its signature changed."""
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_forged_or_altered_confirmation_link_is_refused(
    client, signup, ada, method, django_capture_on_commit_callbacks
):
    submit(client, signup.page, django_capture_on_commit_callbacks)
    path = confirm_path(mail.outbox[0])
    token = path.removeprefix("/journeys/confirm/").rstrip("/")
    forged = [
        altered(token),
        "nonsense",
        # Signed by us, but for another purpose (the preference centre).
        tokens.make_token(tokens.PREFERENCES, ada.pk, signup.pk),
        # A well-signed confirmation of a contact that does not exist.
        tokens.make_token(tokens.CONFIRM, ada.pk + 1000, signup.pk),
    ]
    for bad in forged:
        response = getattr(client, method)(f"/journeys/confirm/{bad}/")
        assert response.status_code == 400, bad
        assert b"This link does not work" in response.content
    ada.refresh_from_db()
    assert ada.status == Contact.Status.PENDING
    assert not ConsentRecord.objects.exists()


def test_a_marketing_template_still_reaches_the_unconfirmed_contact(
    client, settings, journeys_mail, signup_page, topics, ada, django_capture_on_commit_callbacks
):
    # The confirmation is always sent as transactional mail, so a template kept
    # as "marketing" is neither held back by consent, the template's topic
    # (which she left), quiet hours nor the frequency cap, and carries no footer.
    now = timezone.now()
    settings.WAGTAIL_JOURNEYS = {
        "BASE_URL": BASE,
        "FREQUENCY_CAP": (0, 86400),
        "QUIET_HOURS": (
            (now - timedelta(hours=1)).strftime("%H:%M"),
            (now + timedelta(hours=1)).strftime("%H:%M"),
        ),
        "DEFAULT_TIMEZONE": "UTC",
    }
    Contact.objects.filter(pk=ada.pk).update(timezone="UTC")
    template = make_template(CONFIRMATION_BODY, kind="marketing", topic=topics[0])
    signup = SignupForm(page=signup_page, double_opt_in=True, confirmation_template=template)
    signup.full_clean()  # the admin accepts it
    signup.save()

    submit(client, signup_page, django_capture_on_commit_callbacks)

    message = Message.objects.get(contact=ada)
    assert (message.status, message.kind) == (Message.Status.SENT, "transactional")
    [email] = mail.outbox
    assert "Unsubscribe" not in email.alternatives[0][0] and "Unsubscribe" not in email.body
    assert "List-Unsubscribe" not in headers_of(email)
    confirm_path(email)


# What the admin refuses


def signup_with(signup_page, body, double_opt_in=True):
    return SignupForm(
        page=signup_page, double_opt_in=double_opt_in, confirmation_template=make_template(body)
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([text("<p>Welcome!</p>")], id="no-link"),
        pytest.param([button(url="https://shop.example.com/")], id="a-fixed-button"),
        # Raw HTML is sent as it is: its merge fields are never filled.
        pytest.param(
            [{"type": "raw_html", "value": '<a href="{{ confirm_url }}">Confirm</a>'}],
            id="raw-html",
        ),
        # Tested, but never shown.
        pytest.param([text("<p>{% if confirm_url %}Welcome!{% endif %}</p>")], id="only-tested"),
        pytest.param([text("<p>Your address: {{ contact.email }}</p>")], id="other-fields"),
    ],
)
def test_a_confirmation_template_without_its_link_is_refused(signup_page, body):
    signup = signup_with(signup_page, body)
    with pytest.raises(ValidationError) as refused:
        signup.full_clean()
    [message] = refused.value.message_dict["confirmation_template"]
    assert "does not show {{ confirm_url }}" in message
    assert "no one could confirm" in message


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([button()], id="button"),
        pytest.param([button(url="{{ context.confirm_url }}")], id="button-context"),
        pytest.param([text("<p>Confirm here: {{ confirm_url }}</p>")], id="text"),
        pytest.param([text('<p><a href="{{ confirm_url }}">Confirm</a></p>')], id="text-link"),
        pytest.param(
            [{"type": "columns", "value": {"left": [button()], "right": []}}], id="in-columns"
        ),
    ],
)
def test_a_confirmation_template_with_its_link_is_accepted(signup_page, body):
    signup_with(signup_page, body).full_clean()


def test_without_double_opt_in_the_template_is_not_checked(signup_page):
    # No confirmation is sent, so its template does not matter (until double opt-in is on).
    signup_with(signup_page, [text("<p>Welcome!</p>")], double_opt_in=False).full_clean()


def test_the_template_as_it_will_be_sent_is_checked(signup_page):
    # Messages pin the template's latest revision, so that is what must confirm.
    template = make_template([button()])
    template.body = [text("<p>Welcome!</p>")]
    template.save_revision(log_action=False)
    signup = SignupForm(page=signup_page, double_opt_in=True, confirmation_template=template)
    with pytest.raises(ValidationError):
        signup.full_clean()


def signup_form_data(signup, template, topics):
    return {
        "page": signup.page_id,
        "double_opt_in": "on",
        "topics": [topic.pk for topic in topics],
        "confirmation_template": template.pk,
    }


def test_the_signup_forms_admin_refuses_a_template_without_its_link(
    admin_client, signup_page, topics
):
    signup = SignupForm.objects.create(page=signup_page, double_opt_in=True)
    edit_url = reverse("journeys_signup_forms:edit", args=[signup.pk])
    unusable = make_template([text("<p>Welcome!</p>")], name="Welcome only")

    response = admin_client.post(edit_url, signup_form_data(signup, unusable, topics))
    assert response.status_code == 200
    content = response.content.decode()
    assert "“Welcome only” does not show {{ confirm_url }} in its body" in content
    signup.refresh_from_db()
    assert signup.confirmation_template is None
    assert not signup.topics.exists()

    usable = make_template(CONFIRMATION_BODY)
    response = admin_client.post(edit_url, signup_form_data(signup, usable, topics))
    assert response.status_code == 302
    signup.refresh_from_db()
    assert signup.confirmation_template == usable
    assert set(signup.topics.all()) == set(topics)


def template_form_data(body):
    return nested_form_data(
        {
            "name": "Confirm your subscription",
            "kind": "transactional",
            "topic": "",
            "subject": "One more step",
            "preheader": "",
            "from_name": "",
            "from_email": "",
            "reply_to": "",
            "body": streamfield(body),
        }
    )


def test_a_confirmation_template_cannot_lose_its_link_later(admin_client, signup):
    template = signup.confirmation_template
    edit_url = reverse("journeys_email_templates:edit", args=[template.pk])

    without_link = template_form_data([("text", rich_text("<p>Welcome!</p>"))])
    response = admin_client.post(edit_url, without_link)
    assert response.status_code == 200
    assert "does not show {{ confirm_url }}" in response.content.decode()
    template.refresh_from_db()
    assert template.body[-1].block_type == "button"

    with_link = template_form_data(
        [("button", {"label": LABEL, "page": "", "url": "{{ confirm_url }}"})]
    )
    assert admin_client.post(edit_url, with_link).status_code == 302
    template.refresh_from_db()
    assert template.body[0].value["url"] == "{{ confirm_url }}"

    # A template no double opt-in form uses is free to drop it.
    signup.double_opt_in = False
    signup.save()
    assert admin_client.post(edit_url, without_link).status_code == 302


def test_a_buttons_url_takes_only_known_merge_fields(admin_client):
    body = [("button", {"label": "Go", "page": "", "url": "{{ context.confirm_link }} {{ nope }}"})]
    response = admin_client.post(reverse("journeys_email_templates:add"), template_form_data(body))
    assert response.status_code == 200
    # In the button's own errors, inside the stream's JSON state.
    assert "Unknown merge field \\u201cnope\\u201d" in response.content.decode()
    assert not EmailTemplate.objects.exists()


def test_a_merged_button_url_never_becomes_a_script_link(journeys_mail):
    from wagtail_journeys.email.previews import render_preview
    from wagtail_journeys.email.rendering import render_email

    template = make_template([button(url="{{ context.next }}", label="Next"), text("<p>Hello</p>")])
    contact = ContactFactory()
    unsafe = render_email(template, contact, context={"next": "javascript:alert(1)"})
    assert "javascript:" not in unsafe.html and "Next" not in unsafe.html
    safe = render_email(template, contact, context={"next": "/welcome/"})
    assert f'href="{BASE}/welcome/"' in safe.html
    # A preview has no context: the button is shown, going nowhere.
    preview = render_preview(template)
    assert 'class="button" href="#"' in preview.html and "Next: #" in preview.text
