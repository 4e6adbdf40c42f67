"""Email templates in the admin: validation at save, the raw HTML permission, previews."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from wagtail.test.utils.form_data import nested_form_data, rich_text, streamfield

from tests.factories import ContactFactory
from wagtail_journeys.email import merge
from wagtail_journeys.email.previews import SESSION_KEY
from wagtail_journeys.models import EmailTemplate

pytestmark = pytest.mark.django_db

ADD_URL = "journeys_email_templates:add"


@pytest.fixture(autouse=True)
def email_settings(settings):
    settings.WAGTAIL_JOURNEYS = {"BASE_URL": "https://shop.example.com"}
    cache.clear()


def make_user(username, *codenames):
    user = User.objects.create_user(username, f"{username}@example.com", "pw")
    group = Group.objects.create(name=f"group-{username}")
    permissions = [Permission.objects.get(codename="access_admin")]
    permissions += [
        Permission.objects.get(content_type__app_label="wagtail_journeys", codename=codename)
        for codename in codenames
    ]
    group.permissions.set(permissions)
    user.groups.add(group)
    return user


EDITOR_PERMISSIONS = ("add_emailtemplate", "change_emailtemplate", "view_emailtemplate")


@pytest.fixture
def editor():
    return make_user("editor", *EDITOR_PERMISSIONS)


@pytest.fixture
def html_editor():
    return make_user("htmleditor", *EDITOR_PERMISSIONS, "use_raw_html")


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def form_data(body=(), **fields):
    data = {
        "name": "Welcome",
        "kind": "marketing",
        "topic": "",
        "subject": "Hello {{ contact.first_name }}",
        "preheader": "",
        "from_name": "",
        "from_email": "",
        "reply_to": "",
        **fields,
    }
    return nested_form_data({**data, "body": streamfield(list(body))})


RAW = ("raw_html", "<p>Our <b>custom</b> banner</p>")


def test_raw_html_needs_the_permission(editor, html_editor):
    response = client_for(editor).post(reverse(ADD_URL), form_data([RAW]))
    assert response.status_code == 200
    assert "You may not add or change raw HTML blocks" in response.content.decode()
    assert not EmailTemplate.objects.exists()

    response = client_for(html_editor).post(reverse(ADD_URL), form_data([RAW]))
    assert response.status_code == 302
    saved = EmailTemplate.objects.get()
    assert saved.body[0].block_type == "raw_html"
    assert "custom" in str(saved.body[0].value)


def test_editors_may_keep_raw_html_but_not_change_it(editor, html_editor):
    client_for(html_editor).post(reverse(ADD_URL), form_data([RAW]))
    saved = EmailTemplate.objects.get()
    edit_url = reverse("journeys_email_templates:edit", args=[saved.pk])

    keep = form_data([RAW], subject="New subject")
    assert client_for(editor).post(edit_url, keep).status_code == 302
    saved.refresh_from_db()
    assert saved.subject == "New subject"

    change = form_data([("raw_html", "<p>Changed</p>")])
    response = client_for(editor).post(edit_url, change)
    assert response.status_code == 200
    assert "You may not add or change raw HTML blocks" in response.content.decode()
    saved.refresh_from_db()
    assert "custom" in str(saved.body[0].value)

    # Raw HTML nested in columns counts too.
    nested = form_data(
        [
            RAW,
            (
                "columns",
                {"left": streamfield([("raw_html", "<i>x</i>")]), "right": streamfield([])},
            ),
        ]
    )
    assert client_for(editor).post(edit_url, nested).status_code == 200
    assert client_for(html_editor).post(edit_url, nested).status_code == 302


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        ("Hi {% if contact.first_name %}there", "Template syntax error"),
        ("Hi {{ contact.first_name|no_such_filter }}", "Template syntax error"),
        ("Hi {{ contact.first_name", "is not closed"),
    ],
)
def test_a_template_syntax_error_is_shown_at_the_subject(editor, subject, message):
    response = client_for(editor).post(reverse(ADD_URL), form_data(subject=subject))
    assert response.status_code == 200
    content = response.content.decode()
    assert message in content
    # At the field: in the subject's own error list.
    errors = content.split('id="panel-child-subject-errors"', 1)[1].split("</div>", 1)[0]
    assert message in errors
    assert not EmailTemplate.objects.exists()


def test_unknown_merge_fields_are_refused(editor):
    response = client_for(editor).post(
        reverse(ADD_URL), form_data(preheader="For {{ contact.nickname }}")
    )
    assert response.status_code == 200
    assert "Unknown merge field" in response.content.decode()
    assert "contact.nickname" in response.content.decode()
    assert not EmailTemplate.objects.exists()

    body = [("text", rich_text("<p>Hi {{ customer.name }}</p>"))]
    response = client_for(editor).post(reverse(ADD_URL), form_data(body))
    assert response.status_code == 200
    # The message is in the block's own errors (the stream's JSON state).
    assert '"blockErrors"' in response.content.decode().replace("&quot;", '"')
    assert "Unknown merge field \\u201ccustomer.name\\u201d" in response.content.decode()
    assert not EmailTemplate.objects.exists()

    body = [("heading", {"text": "{% load static %}Hi", "level": "h2"})]
    response = client_for(editor).post(reverse(ADD_URL), form_data(body))
    assert response.status_code == 200
    assert "Invalid block tag on line 1: &#x27;load&#x27;" in response.content.decode()
    assert not EmailTemplate.objects.exists()


def test_a_valid_template_saves_with_a_revision(editor):
    body = [
        ("heading", {"text": 'Hi {{ contact.first_name|default:"there" }}', "level": "h1"}),
        ("text", rich_text("<p>{{ contact.custom.city }} {{ site_name }}</p>")),
        ("button", {"label": "Preferences", "page": "", "url": "https://example.com/"}),
    ]
    response = client_for(editor).post(
        reverse(ADD_URL),
        form_data(body, subject='Hi {{ contact.first_name|default:"there" }}, {{ context.code }}'),
    )
    assert response.status_code == 302
    saved = EmailTemplate.objects.get()
    assert saved.revisions.count() == 1
    assert [child.block_type for child in saved.body] == ["heading", "text", "button"]


def test_a_button_needs_a_page_or_a_url(editor):
    body = [("button", {"label": "Go", "page": "", "url": ""})]
    response = client_for(editor).post(reverse(ADD_URL), form_data(body))
    assert response.status_code == 200
    assert "Choose a page or enter a URL." in response.content.decode()
    assert not EmailTemplate.objects.exists()


def test_merge_field_rules():
    assert (
        merge.errors('{{ contact.first_name|default:"x"|upper }} {{ contact.custom.size }}') == []
    )
    assert merge.errors("{% if contact.email %}{{ contact.full_name }}{% endif %}") == []
    assert merge.errors("{{ unsubscribe_url }} {{ confirm_url }} {{ context.anything.deep }}") == []
    assert merge.errors("{{ contact }}")  # the whole contact is not a field
    assert merge.errors("{{ contact.user.password }}")
    assert merge.errors("{% if contact.secret %}x{% endif %}")
    assert merge.errors("{{ contact.first_name|default:contact.phone }}")
    assert merge.errors("{{ contact.first_name|safe }}")  # no way around escaping
    assert merge.errors("{% include 'x.html' %}")


@pytest.fixture
def saved_template(html_editor):
    body = [("heading", {"text": "Hello {{ contact.first_name }}", "level": "h1"})]
    client_for(html_editor).post(reverse(ADD_URL), form_data(body, name="Preview me"))
    return EmailTemplate.objects.get()


def test_preview_for_a_chosen_contact(editor, saved_template):
    grace = ContactFactory(first_name="Grace", email="grace@example.com")
    client = client_for(editor)
    page_url = reverse("journeys_email_templates:preview_contact", args=[saved_template.pk])
    email_url = reverse("journeys_email_templates:preview_contact_email", args=[saved_template.pk])

    page = client.get(page_url, {"contact": "grace@example.com", "mode": "html"})
    assert page.status_code == 200
    assert f"{email_url}?mode=html&amp;contact={grace.pk}" in page.content.decode()
    assert client.session[SESSION_KEY] == str(grace.pk)

    html = client.get(email_url, {"contact": grace.pk, "mode": "html"})
    assert html.status_code == 200 and "Hello Grace" in html.content.decode()
    text = client.get(email_url, {"contact": grace.pk, "mode": "text"})
    assert text["Content-Type"].startswith("text/plain")
    assert "Hello Grace\n=====" in text.content.decode()

    sample = client.get(email_url, {"contact": "nobody@example.com"})
    assert "Hello Alex" in sample.content.decode()
    assert (
        "No contact has this email"
        in client.get(page_url, {"contact": "nobody@x.org"}).content.decode()
    )


def test_live_preview_panel_follows_the_chosen_contact(editor, saved_template):
    grace = ContactFactory(first_name="Grace")
    linus = ContactFactory(first_name="Linus")
    client = client_for(editor)
    preview_url = reverse("journeys_email_templates:preview_on_edit", args=[saved_template.pk])
    body = [("heading", {"text": "Draft for {{ contact.first_name }}", "level": "h1"})]
    state = client.post(preview_url, form_data(body, name="Preview me"))
    assert state.json() == {"is_valid": True, "is_available": True}

    assert "Draft for Alex" in client.get(preview_url, {"mode": "html"}).content.decode()
    client.get(
        reverse("journeys_email_templates:preview_contact", args=[saved_template.pk]),
        {"contact": grace.email},
    )
    assert "Draft for Grace" in client.get(preview_url, {"mode": "html"}).content.decode()
    text = client.get(preview_url, {"mode": "text", "contact": linus.pk}).content.decode()
    assert "Draft for Linus" in text and "<pre>" in text


def test_preview_needs_the_change_permission(saved_template):
    viewer = make_user("viewer", "view_emailtemplate")
    url = reverse("journeys_email_templates:preview_contact_email", args=[saved_template.pk])
    response = client_for(viewer).get(url)
    assert response.status_code in (302, 403)
    assert "Hello" not in response.content.decode()


def test_edit_page_links_to_the_contact_preview(editor, saved_template):
    response = client_for(editor).get(
        reverse("journeys_email_templates:edit", args=[saved_template.pk])
    )
    assert reverse("journeys_email_templates:preview_contact", args=[saved_template.pk]) in (
        response.content.decode()
    )


def test_every_block_explains_itself_and_previews(editor):
    from wagtail.blocks import Block

    from wagtail_journeys.email.blocks import EmailBodyBlock

    client = client_for(editor)
    body = EmailBodyBlock()
    for name, block in body.child_blocks.items():
        for attribute in ("icon", "label", "help_text", "description"):
            assert getattr(block.meta, attribute, None), (name, attribute)
        assert hasattr(block.meta, "preview_value"), name
        response = client.get(
            reverse("wagtailadmin_block_preview"), {"id": block.definition_prefix}
        )
        assert response.status_code == 200, name
        assert Block.definition_registry[block.definition_prefix] is block
    preview = client.get(
        reverse("wagtailadmin_block_preview"),
        {"id": body.child_blocks["conditional"].definition_prefix},
    )
    assert "Only for subscribers" in preview.content.decode()
    cart = client.get(
        reverse("wagtailadmin_block_preview"),
        {"id": body.child_blocks["cart_items"].definition_prefix},
    )
    assert "Example product" in cart.content.decode()
