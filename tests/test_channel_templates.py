"""SMS and push templates: the segment counter, the admin, the previews."""

from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse

from tests.admin_helpers import client_for, superuser_client
from tests.factories import ContactFactory
from wagtail_journeys.admin.channel_templates import describe
from wagtail_journeys.channels.previews import push_preview_context, sms_preview_context
from wagtail_journeys.channels.sms_text import (
    GSM7_BASIC_TABLE,
    GSM7_EXTENSION_TABLE,
    non_gsm_characters,
    segments,
)
from wagtail_journeys.email.previews import REQUEST_ATTRIBUTE
from wagtail_journeys.models import PushTemplate, SmsTemplate

SMS_ADD = "journeys_sms_templates:add"
PUSH_ADD = "journeys_push_templates:add"


@pytest.fixture(autouse=True)
def base_url(settings):
    settings.WAGTAIL_JOURNEYS = {"BASE_URL": "https://shop.example.com"}
    cache.clear()


# segments(): the GSM 03.38 tables and the segment arithmetic


def test_the_gsm_tables_are_complete():
    assert len(GSM7_BASIC_TABLE) == 128  # 0x1B (the escape) included, as in the standard
    assert GSM7_BASIC_TABLE[0x00] == "@" and GSM7_BASIC_TABLE[0x02] == "$"
    assert GSM7_BASIC_TABLE[0x24] == "¤" and GSM7_BASIC_TABLE[0x7F] == "à"
    assert sorted(GSM7_EXTENSION_TABLE) == sorted("\f^{}\\[]~|€")


@pytest.mark.parametrize(
    ("text", "encoding", "characters", "count", "per_segment", "remaining"),
    [
        ("", "GSM-7", 0, 0, 160, 160),
        ("Hello", "GSM-7", 5, 1, 160, 155),
        ("a" * 160, "GSM-7", 160, 1, 160, 0),
        ("a" * 161, "GSM-7", 161, 2, 153, 145),  # 153 + 8
        ("a" * 306, "GSM-7", 306, 2, 153, 0),
        ("a" * 307, "GSM-7", 307, 3, 153, 152),
        ("a" * 159 + "€", "GSM-7", 161, 2, 153, 145),  # the euro counts two
        ("a" * 158 + "€", "GSM-7", 160, 1, 160, 0),
        ("[]{}^~|\\€", "GSM-7", 18, 1, 160, 142),
        ("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà", "GSM-7", 42, 1, 160, 118),
        # An escaped character never straddles two segments: 152 + € moves to segment 2.
        ("a" * 152 + "€" + "a" * 10, "GSM-7", 164, 2, 153, 141),
        ("😀", "UCS-2", 2, 1, 70, 68),  # an emoji is a surrogate pair
        ("Hi 😀", "UCS-2", 5, 1, 70, 65),
        ("ç" * 70, "UCS-2", 70, 1, 70, 0),  # ç is not GSM (only Ç is)
        ("ç" * 71, "UCS-2", 71, 2, 67, 63),
        ("a" * 69 + "’", "UCS-2", 70, 1, 70, 0),  # a curly quote from a word processor
        ("a" * 134 + "’", "UCS-2", 135, 3, 67, 66),
        # The emoji would straddle units 67 and 68: it starts the second segment.
        ("a" * 66 + "😀" + "a" * 5, "UCS-2", 73, 2, 67, 60),
    ],
)
def test_segments(text, encoding, characters, count, per_segment, remaining):
    length = segments(text)
    assert (length.encoding, length.characters, length.segments) == (encoding, characters, count)
    assert (length.per_segment, length.remaining) == (per_segment, remaining)


def test_line_breaks_and_the_characters_that_force_ucs2():
    assert segments("a\nb").characters == 3
    assert segments("a\r\nb").characters == 4  # as sent: a CR is a character too
    assert non_gsm_characters("Café “deal” — 😀 “x”") == ["“", "”", "—", "😀"]
    assert non_gsm_characters("Café {deal} €5") == []


def test_counter_text():
    assert describe(segments("Hi"), []) == "2 characters · 1 SMS segment (GSM-7)"
    assert describe(segments("a" * 161), []) == "161 characters · 2 SMS segments (GSM-7)"
    text = "Hi 😀"
    assert describe(segments(text), non_gsm_characters(text)) == (
        "5 characters · 1 SMS segment (UCS-2) · UCS-2 because of: 😀"
    )


def test_the_counter_script_has_the_same_tables():
    source = Path(finders.find("wagtail_journeys/sms_counter.js")).read_text(encoding="utf-8")
    basic = GSM7_BASIC_TABLE.replace("\x1b", "")
    for char in basic + GSM7_EXTENSION_TABLE:
        escaped = {"\n": "\\n", "\r": "\\r", "\f": "\\f", '"': '\\"', "\\": "\\\\"}.get(char, char)
        assert escaped in source, repr(char)
    for limit in ("160", "153", "70", "67"):
        assert limit in source


# The admin


def sms_data(**fields):
    return {"name": "Shipped", "kind": "transactional", "body": "Hi", **fields}


def push_data(**fields):
    return {
        "name": "Back in stock",
        "kind": "marketing",
        "title": "Hi {{ contact.first_name }}",
        "body": "Your size is back",
        "url": "/shop/",
        "icon": "",
        **fields,
    }


def test_sms_template_create_and_edit(db):
    client = superuser_client()
    body = "Hi {{ contact.first_name }}, order {{ context.order_ref }} has shipped."
    response = client.post(reverse(SMS_ADD), sms_data(body=body))
    assert response.status_code == 302
    template = SmsTemplate.objects.get()
    assert template.body == body and template.kind == "transactional"
    assert template.revisions.count() == 1

    edit_url = reverse("journeys_sms_templates:edit", args=[template.pk])
    response = client.post(edit_url, sms_data(body="Shipped!"))
    assert response.status_code == 302
    template.refresh_from_db()
    assert template.body == "Shipped!" and template.revisions.count() == 2

    listing = client.get(reverse("journeys_sms_templates:list"), {"q": "Ship"})
    assert "Shipped" in listing.content.decode()
    assert (
        "Shipped"
        not in client.get(reverse("journeys_sms_templates:list"), {"q": "nothing"}).content.decode()
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Hi {{ contact.nonsense }}", "Unknown merge field “contact.nonsense”"),
        ("Hi {% if contact.first_name %}x", "Template syntax error"),
        ("Hi {{ contact.first_name", "A merge field or tag is not closed"),
    ],
)
def test_merge_field_errors_show_at_the_field(db, body, message):
    client = superuser_client()
    response = client.post(reverse(SMS_ADD), sms_data(body=body))
    assert response.status_code == 200
    form = response.context["form"]
    assert any(message in error for error in form.errors["body"])
    assert not SmsTemplate.objects.exists()

    response = client.post(reverse(PUSH_ADD), push_data(title=body))
    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors["title"])
    assert not PushTemplate.objects.exists()


def test_the_counter_is_on_the_edit_page(db):
    client = superuser_client()
    template = SmsTemplate.objects.create(name="Sale", body="Sale: 20% off {today} €5")
    response = client.get(reverse("journeys_sms_templates:edit", args=[template.pk]))
    html = response.content.decode()
    assert "wagtail_journeys/sms_counter.js" in html
    assert 'data-journeys-sms-counter="id_body-sms-counter"' in html
    assert 'id="id_body-sms-counter"' in html
    # Rendered with the count already, before the script runs.
    assert "27 characters · 1 SMS segment (GSM-7)" in html
    assert "wagtail_journeys/sms_counter.js" in client.get(reverse(SMS_ADD)).content.decode()


def test_push_template_create_and_edit(db):
    client = superuser_client()
    response = client.post(reverse(PUSH_ADD), push_data(icon="/static/icon.png"))
    assert response.status_code == 302
    template = PushTemplate.objects.get()
    assert (template.title, template.url, template.icon) == (
        "Hi {{ contact.first_name }}",
        "/shop/",
        "/static/icon.png",
    )
    edit_url = reverse("journeys_push_templates:edit", args=[template.pk])
    assert client.post(edit_url, push_data(body="Back again")).status_code == 302
    template.refresh_from_db()
    assert template.body == "Back again"
    listing = client.get(reverse("journeys_push_templates:list")).content.decode()
    assert "Back in stock" in listing


def test_the_menu_lists_both_after_email_templates(db):
    html = superuser_client().get(reverse("wagtailadmin_home")).content.decode()
    email = html.index("Email templates")
    assert email < html.index("SMS templates") < html.index("Push templates")


def test_editors_need_the_permissions(db):
    template = SmsTemplate.objects.create(name="Secret", body="Hi")
    client = client_for("view_emailtemplate")
    response = client.get(reverse("journeys_sms_templates:edit", args=[template.pk]))
    assert response.status_code in (302, 403)
    editor = client_for("add_smstemplate", "change_smstemplate", "view_smstemplate")
    assert editor.get(reverse("journeys_sms_templates:edit", args=[template.pk])).status_code == 200


# Previews


def test_sms_preview_renders_for_the_sample_contact_escaped(db):
    client = superuser_client()
    url = reverse("journeys_sms_templates:preview_on_add")
    body = "Hi {{ contact.first_name }} <b>&</b> 😀"
    state = client.post(url, sms_data(body=body))
    assert state.json() == {"is_valid": True, "is_available": True}
    html = client.get(url).content.decode()
    assert "Hi Alex &lt;b&gt;&amp;&lt;/b&gt; 😀" in html
    assert "<b>&" not in html
    assert "19 characters" in html and "1 SMS segment" in html and "(UCS-2)" in html
    assert "because of: 😀" in html


def test_sms_preview_counts_the_rendered_text(db):
    client = superuser_client()
    template = SmsTemplate.objects.create(name="Long", body="x")
    url = reverse("journeys_sms_templates:preview_on_edit", args=[template.pk])
    # The preview counts the text as sent, "Alex" in place of the merge field: 4 + 157.
    body = "{{ contact.first_name }}" + "a" * 157
    client.post(url, sms_data(body=body))
    html = client.get(url).content.decode()
    assert "161 characters" in html and "2 SMS segments" in html and "(GSM-7)" in html


def test_sms_preview_of_an_invalid_draft(db):
    client = superuser_client()
    url = reverse("journeys_sms_templates:preview_on_add")
    state = client.post(url, sms_data(body="Hi {{ contact.nonsense }}"))
    assert state.json()["is_valid"] is False


def test_push_preview_renders_the_notification_escaped(db):
    client = superuser_client()
    url = reverse("journeys_push_templates:preview_on_add")
    data = push_data(
        title="<i>Hi</i> {{ contact.first_name }}", body="Size M & L", icon="/icon.png"
    )
    client.post(url, data)
    html = client.get(url).content.decode()
    assert "&lt;i&gt;Hi&lt;/i&gt; Alex" in html and "<i>Hi" not in html
    assert "Size M &amp; L" in html
    assert 'src="https://shop.example.com/icon.png"' in html
    assert 'href="https://shop.example.com/shop/"' in html


def test_a_script_url_is_refused_at_save_and_never_linked_in_a_preview(db):
    client = superuser_client()
    response = client.post(
        reverse("journeys_push_templates:add"),
        push_data(url="javascript:alert(1)", icon="javascript:alert(2)"),
    )
    assert response.status_code == 200
    assert not PushTemplate.objects.exists()
    assert "Give a path on this site" in response.content.decode()

    # One stored before (or written by code) is shown as text, never followed.
    stored = PushTemplate(name="x", title="t", body="b", url="javascript:alert(1)")
    html = render_to_string(
        "wagtail_journeys/channels/push_preview.html", push_preview_context(stored)
    )
    assert 'href="javascript:' not in html and 'src="javascript:' not in html
    assert "<code>javascript:alert(1)</code>" in html


def test_previews_for_a_chosen_contact(db):
    grace = ContactFactory(first_name="Grace", phone="+44 7700 900456")
    request = RequestFactory().get("/")
    setattr(request, REQUEST_ATTRIBUTE, str(grace.pk))
    sms = SmsTemplate(name="x", body="Hi {{ contact.first_name }}")
    context = sms_preview_context(sms, request)
    assert context["text"] == "Hi Grace" and context["to"] == "+44 7700 900456"
    assert context["contact"] == grace
    push = PushTemplate(name="x", title="Hi {{ contact.first_name }}", body="b", url="/")
    assert push_preview_context(push, request)["push"].title == "Hi Grace"

    sample = sms_preview_context(sms)
    assert sample["text"] == "Hi Alex" and sample["contact"] is None


# The counter in a real browser

COUNTED = [
    "",
    "a" * 160,
    "a" * 161,
    "a" * 159 + "€",
    "a" * 152 + "€" + "a" * 10,
    "Hi 😀",
    "ç" * 71,
    "a" * 66 + "😀" + "a" * 5,
    "Line\nbreak {curly} [square] ~^|\\",
]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_counter_updates_as_the_editor_types(chromium, live_server, settings):
    from django.contrib.auth.models import User

    from tests.test_admin_browser import screenshot

    settings.WAGTAIL_GRAVATAR_PROVIDER_URL = None
    User.objects.create_superuser("admin", "admin@example.com", "a-long-password")
    template = SmsTemplate.objects.create(
        name="Order shipped", kind="transactional", body="Hi {{ contact.first_name }}"
    )
    context = chromium.new_context(
        base_url=live_server.url, viewport={"width": 1400, "height": 900}
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto(reverse("wagtailadmin_login"))
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", "a-long-password")
        page.click("form button[type=submit]")
        page.wait_for_url(f"**{reverse('wagtailadmin_home')}")
        page.goto(reverse("journeys_sms_templates:edit", args=[template.pk]))
        counter = page.locator("#id_body-sms-counter")
        # The braces of a merge field are extension characters: two each.
        assert counter.inner_text() == "31 characters · 1 SMS segment (GSM-7)"

        page.fill("#id_body", "a" * 159 + "€")
        assert counter.inner_text() == "161 characters · 2 SMS segments (GSM-7)"
        page.fill("#id_body", "Your order {{ context.order_ref }} has shipped 📦")
        assert counter.inner_text() == (
            "49 characters · 1 SMS segment (UCS-2) · UCS-2 because of: 📦"
        )
        page.click('[data-side-panel-toggle="preview"]')
        preview = page.frame_locator("#w-preview-iframe")
        preview.locator("[data-sms-text]").wait_for()
        assert "Your order  has shipped 📦" in preview.locator("[data-sms-text]").inner_text()
        screenshot(page, "channels-sms-template.png")

        # The script and segments() agree.
        for text in COUNTED:
            result = page.evaluate("(text) => window.wagtailJourneysSms.segments(text)", text)
            length = segments(text)
            assert (
                result["encoding"],
                result["characters"],
                result["segments"],
                result["perSegment"],
                result["remaining"],
            ) == (
                length.encoding,
                length.characters,
                length.segments,
                length.per_segment,
                length.remaining,
            ), text
    finally:
        context.close()
