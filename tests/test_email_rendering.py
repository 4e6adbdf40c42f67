"""Rendering email templates for real contacts: links, escaping, text part, shop blocks."""

import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.files.images import ImageFile
from django.test import Client
from wagtail.images import get_image_model
from wagtail.images.tests.utils import get_test_image_file
from wagtail.rich_text import RichText

from example_site.storefront.models import ProductCategory, ProductIndexPage, ProductPage
from tests.factories import ContactFactory
from wagtail_journeys.email import links
from wagtail_journeys.email.previews import render_preview
from wagtail_journeys.email.recommendations import recommend
from wagtail_journeys.email.rendering import RenderSession, render_email
from wagtail_journeys.models import Cart, DiscountCode, EmailTemplate, Message
from wagtail_journeys.models.branding import EmailBrandSettings
from wagtail_journeys.tracking.events import record_event

pytestmark = pytest.mark.django_db

BASE = "https://shop.example.com"
ATTRIBUTE_RE = re.compile(r"""\b(?:href|src)="([^"]*)\"""")


@pytest.fixture(autouse=True)
def email_settings(settings):
    settings.WAGTAIL_JOURNEYS = {"BASE_URL": BASE, "RECOMMENDATION_CACHE_SECONDS": 0}
    cache.clear()


def make_image(title="Photo"):
    return get_image_model().objects.create(
        title=title, file=ImageFile(get_test_image_file(size=(1400, 900)), name=f"{title}.png")
    )


@pytest.fixture
def shop(home):
    index = home.add_child(instance=ProductIndexPage(title="Shop", slug="shop"))
    coffee = ProductCategory.objects.create(name="Coffee", slug="coffee")
    tools = ProductCategory.objects.create(name="Tools", slug="tools")
    products = {}
    for sku, title, price, category in [
        ("A", "Ethiopia beans", "12.50", coffee),
        ("B", "Colombia beans", "11.00", coffee),
        ("C", "Kenya beans", "14.00", coffee),
        ("D", "Hand grinder", "45.00", tools),
        ("E", "Pour-over kettle", "39.00", tools),
    ]:
        products[sku] = index.add_child(
            instance=ProductPage(
                title=title,
                slug=sku.lower(),
                sku=sku,
                price=Decimal(price),
                summary=title,
                category=category,
                image=make_image(f"photo-{sku}"),
            )
        )
    return products


def template(body, **fields):
    fields.setdefault("name", "Test")
    fields.setdefault("subject", "Hello {{ contact.first_name }}")
    made = EmailTemplate.objects.create(body=body, **fields)
    # Read back as a sender does: block values come from the database.
    return EmailTemplate.objects.get(pk=made.pk)


def message_for(contact, email_template, **fields):
    return Message.objects.create(
        contact=contact,
        template=email_template,
        to_email=contact.email,
        idempotency_key=f"test-{contact.pk}-{email_template.pk}-{Message.objects.count()}",
        **fields,
    )


def cart_with(contact, *products, status=Cart.Status.OPEN, quantity=1):
    cart = Cart.objects.create(contact=contact, currency="EUR")
    for product in products:
        cart.add(product, quantity=quantity)
    if status == Cart.Status.CONVERTED:
        cart.complete(f"order-{cart.pk}", "10.00")
    elif status != Cart.Status.OPEN:
        Cart.objects.filter(pk=cart.pk).update(status=status)
    return cart


def test_every_link_and_image_is_absolute(home, shop):
    about = shop["A"]
    EmailBrandSettings.objects.create(site=home.get_site(), logo=make_image("logo"))
    email_template = template(
        [
            ("text", RichText(f'<p>Read <a linktype="page" id="{about.pk}">this</a>.</p>')),
            ("image", {"image": make_image("banner"), "alt": "Banner", "link": "/sale/"}),
            ("button", {"label": "Shop", "page": shop["B"], "url": ""}),
        ]
    )
    rendered = render_email(email_template, ContactFactory())

    urls = ATTRIBUTE_RE.findall(rendered.html)
    assert len(urls) >= 6
    assert all(url.startswith(BASE + "/") for url in urls), urls
    assert f'href="{BASE}{about.url}"' in rendered.html
    assert f"{BASE}/sale/" in rendered.links
    assert f"{BASE}{shop['B'].url}" in rendered.links
    images = re.findall(r'<img[^>]*src="([^"]*)"', rendered.html)
    assert any("/media/images/banner" in url for url in images)
    assert any("/media/images/logo" in url for url in images)
    # Without a message (a preview) nothing is wrapped for tracking.
    assert "/journeys/c/" not in rendered.html


def test_links_are_tracked_with_a_message(shop):
    contact = ContactFactory()
    email_template = template(
        [
            ("text", RichText('<p><a href="https://example.org/guide?a=1&amp;b=2">Guide</a></p>')),
            ("button", {"label": "Go", "page": None, "url": "https://example.org/go"}),
        ]
    )
    message = message_for(contact, email_template)
    rendered = render_email(email_template, contact, message=message)

    assert rendered.links == ["https://example.org/guide?a=1&b=2", "https://example.org/go"]
    click = links.click_url(message.pk, 0, BASE)
    assert f'href="{click}"' in rendered.html
    assert links.click_url(message.pk, 1, BASE) in rendered.text
    assert "https://example.org/go" not in rendered.text
    assert links.open_pixel_url(message.pk, BASE) in rendered.html
    # Footer links are ours, never wrapped: unsubscribe and preferences of this message.
    assert f'href="{links.unsubscribe_url(message.pk, BASE)}"' in rendered.html
    assert f'href="{links.preferences_url(contact.pk, BASE)}"' in rendered.html
    assert links.unsubscribe_url(message.pk, BASE) in rendered.text


def test_tracking_can_be_switched_off(settings, shop):
    settings.WAGTAIL_JOURNEYS = {"BASE_URL": BASE, "TRACK_CLICKS": False, "TRACK_OPENS": False}
    contact = ContactFactory()
    email_template = template([("button", {"label": "Go", "page": None, "url": "https://x.org/"})])
    rendered = render_email(email_template, contact, message=message_for(contact, email_template))
    assert 'href="https://x.org/"' in rendered.html
    assert "/journeys/o/" not in rendered.html
    assert rendered.links == ["https://x.org/"]


def test_merge_values_are_escaped_in_html_but_not_in_text():
    contact = ContactFactory(first_name="<script>alert(1)</script>", custom_fields={"city": "A&B"})
    email_template = template(
        [
            ("heading", {"text": "Hi {{ contact.first_name }}", "level": "h1"}),
            ("text", RichText("<p>From {{ contact.custom.city }}: {{ contact.first_name }}</p>")),
            (
                "button",
                {"label": "Go {{ contact.first_name }}", "page": None, "url": "https://x.org"},
            ),
        ],
        preheader="For {{ contact.first_name }}",
    )
    rendered = render_email(email_template, contact)

    assert "<script>" not in rendered.html
    assert rendered.html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4
    assert "From A&amp;B" in rendered.html
    assert rendered.subject == "Hello <script>alert(1)</script>"
    assert rendered.preheader == "For <script>alert(1)</script>"
    assert "Hi <script>alert(1)</script>" in rendered.text
    assert "From A&B: <script>alert(1)</script>" in rendered.text


def test_default_filter_in_rich_text_and_subject():
    contact = ContactFactory(first_name="")
    email_template = template(
        [("text", RichText("<p>Hi {{ contact.first_name|default:&quot;there&quot; }}!</p>"))],
        subject='Welcome {{ contact.first_name|default:"friend" }}',
    )
    rendered = render_email(email_template, contact)
    assert rendered.subject == "Welcome friend"
    assert "Hi there!" in rendered.html
    assert "Hi there!" in rendered.text


def test_text_part_is_written_by_the_blocks(home):
    EmailBrandSettings.objects.create(
        site=home.get_site(), company_name="Kettle & Bean", postal_address="1 Bean Street\nLyon"
    )
    email_template = template(
        [
            ("heading", {"text": "Big news", "level": "h2"}),
            ("text", RichText("<p>First paragraph.</p><ul><li>One</li><li>Two</li></ul>")),
            ("divider", None),
            ("button", {"label": "Read more", "page": None, "url": "https://x.org/more"}),
        ],
        preheader="The preheader",
    )
    rendered = render_email(email_template, ContactFactory())
    text = rendered.text

    assert "<" not in text and "&amp;" not in text
    assert text.startswith("Big news\n--------")
    assert "First paragraph.\n\n- One\n- Two" in text
    assert "Read more: https://x.org/more" in text
    assert "Kettle & Bean\n1 Bean Street\nLyon" in text
    assert "Unsubscribe: " in text
    # The preheader is hidden text at the top of the HTML.
    assert re.search(
        r'<div class="preheader" style="display: none;[^"]*">The preheader', rendered.html
    )
    assert "1 Bean Street<br>Lyon" in rendered.html


def test_transactional_mail_has_no_unsubscribe_footer():
    email_template = template(
        [("heading", {"text": "Receipt", "level": "h1"})], kind="transactional"
    )
    rendered = render_email(email_template, ContactFactory())
    assert "Unsubscribe" not in rendered.html
    assert "Unsubscribe" not in rendered.text


def test_css_is_inlined_and_brand_colours_used(home):
    EmailBrandSettings.objects.create(site=home.get_site(), primary_colour="#ff0066")
    email_template = template([("button", {"label": "Go", "page": None, "url": "https://x.org"})])
    html = render_email(email_template, ContactFactory()).html
    button = re.search(r'<a class="button"[^>]*>', html).group(0)
    assert re.search(r'style="[^"]*background-color: #ff0066', button)
    assert "@media only screen" in html


def test_cart_items_show_the_triggering_cart(shop):
    contact = ContactFactory()
    old = cart_with(contact, shop["E"], status=Cart.Status.CONVERTED)
    cart = cart_with(contact, shop["A"], quantity=2)
    cart.add(shop["D"])
    email_template = template(
        [
            (
                "cart_items",
                {
                    "heading": "Still there, {{ contact.first_name }}?",
                    "button_label": "Back",
                    "show_images": True,
                },
            )
        ]
    )
    rendered = render_email(email_template, contact, context={"cart_id": cart.pk})
    html, text = rendered.html, rendered.text

    assert "Still there, Ada?" in html
    assert "Ethiopia beans" in html and "Hand grinder" in html
    assert "Pour-over kettle" not in html
    assert "2 × €12.50 = €25.00" in html.replace("&times;", "×")
    assert "1 × €45.00" in html.replace("&times;", "×")
    images = re.findall(r'<img[^>]*src="([^"]*)"', html)
    assert any(re.match(r"https?://[^/]+/media/images/photo-A", url) for url in images), images
    assert "- 2 × Ethiopia beans (€25.00)" in text
    restore = [url for url in rendered.links if "/journeys/cart/" in url]
    assert len(restore) == 1 and f"Back: {restore[0]}" in text

    # Another contact's cart id shows nothing.
    stranger = render_email(email_template, ContactFactory(), context={"cart_id": cart.pk})
    assert "Ethiopia beans" not in stranger.html
    # Without a cart id: the latest open or abandoned cart, never a converted one.
    assert "Ethiopia beans" in render_email(email_template, contact).html
    assert old.status == Cart.Status.CONVERTED


def test_restore_link_gives_the_cart_back(shop):
    contact = ContactFactory()
    cart = cart_with(contact, shop["A"], status=Cart.Status.ABANDONED)
    email_template = template(
        [("cart_items", {"heading": "", "button_label": "Back", "show_images": False})]
    )
    rendered = render_email(email_template, contact, context={"cart_id": cart.pk})
    restore = next(url for url in rendered.links if "/journeys/cart/" in url)

    client = Client()
    response = client.get(restore.removeprefix(BASE))
    assert response.status_code == 302 and response["Location"] == "/cart/"
    cart.refresh_from_db()
    assert cart.status == Cart.Status.OPEN
    # The browser is now the contact's: its cart page shows the item.
    assert "journeys_visitor" in response.cookies
    page = client.get("/cart/")
    assert "Ethiopia beans" in page.content.decode()

    tampered = restore.removeprefix(BASE).rstrip("/") + "x/"
    assert client.get(tampered).status_code == 400


def test_wishlist_items(shop):
    from wagtail_journeys.models import Wishlist

    contact = ContactFactory()
    wishlist = Wishlist.objects.create(contact=contact)
    wishlist.add(shop["B"])
    wishlist.add(shop["C"])
    email_template = template([("wishlist_items", {"heading": "Saved for later", "limit": 1})])
    rendered = render_email(email_template, contact)
    assert "Saved for later" in rendered.html
    assert "Kenya beans" in rendered.html  # the newest
    assert "Colombia beans" not in rendered.html
    assert "- Kenya beans (€14.00)" in rendered.text
    assert "Saved for later" not in render_email(email_template, ContactFactory()).html


def test_recommendations_follow_what_others_bought_and_viewed(shop):
    a, b, c, d, e = (shop[key] for key in "ABCDE")
    for products in [(a, d), (a, d), (a, e)]:
        cart_with(ContactFactory(), *products, status=Cart.Status.CONVERTED)
    contact = ContactFactory()
    cart_with(contact, c, status=Cart.Status.CONVERTED)  # bought before
    cart_with(contact, a)  # in the cart now

    session = RenderSession()
    picked = [item.title for item in recommend(contact, 3, session=session)]
    # Bought with A by two contacts, then by one; then coffee like A and C.
    assert picked == ["Hand grinder", "Pour-over kettle", "Colombia beans"]

    # Viewed together: someone who looked at B also looked at E.
    viewer = ContactFactory()
    for page in (b, e):
        record_event(viewer, "page_viewed", {}, page=page)
    looker = ContactFactory()
    record_event(looker, "page_viewed", {}, page=b)
    picked = [item.title for item in recommend(looker, 2, session=RenderSession())]
    assert picked[0] == "Pour-over kettle"
    assert "Colombia beans" not in picked

    email_template = template([("recommendations", {"heading": "For you", "count": 2})])
    rendered = render_email(email_template, contact)
    assert "Hand grinder" in rendered.html and "Pour-over kettle" in rendered.html
    assert "Kenya beans" not in rendered.html and "Ethiopia beans" not in rendered.html
    assert d.full_url in rendered.links
    assert "- Hand grinder (€45.00)" in rendered.text


def test_recommendations_skip_unpublished_products_and_new_contacts_get_popular(shop):
    a, d = shop["A"], shop["D"]
    for _ in range(2):
        cart_with(ContactFactory(), a, d)
    d.unpublish()
    picked = [item.title for item in recommend(ContactFactory(), 2, session=RenderSession())]
    assert picked == ["Ethiopia beans"]


def test_product_card(shop):
    email_template = template(
        [("product", {"product": shop["C"], "button_label": "See it", "show_price": True})]
    )
    rendered = render_email(email_template, ContactFactory())
    assert "Kenya beans" in rendered.html and "€14.00" in rendered.html
    assert shop["C"].full_url in rendered.links
    assert f"See it: {shop['C'].full_url}" in rendered.text


def test_unique_discount_codes_are_stable_per_contact():
    email_template = template(
        [("discount", {"text": "Yours:", "kind": "unique", "code": "", "prefix": "save"})]
    )
    first, second = ContactFactory(), ContactFactory()
    rendered = render_email(email_template, first)
    code = DiscountCode.objects.get(contact=first).code
    assert re.fullmatch(r"SAVE-[A-Z2-9]{8}", code)
    assert code in rendered.html and code in rendered.text
    assert code in render_email(email_template, first).html
    render_email(email_template, second)
    assert DiscountCode.objects.get(contact=second).code != code
    assert DiscountCode.objects.count() == 2

    # A preview shows an example and writes nothing.
    third = ContactFactory()
    assert "SAVE-EXAMPLE" in render_preview(email_template, third).html
    assert not DiscountCode.objects.filter(contact=third).exists()


def test_fixed_discount_code():
    email_template = template(
        [("discount", {"text": "Use", "kind": "fixed", "code": "WELCOME10", "prefix": ""})]
    )
    assert "WELCOME10" in render_email(email_template, ContactFactory()).html
    assert not DiscountCode.objects.exists()


def test_conditional_content_is_shown_only_to_matching_contacts():
    # The segments' rules, answered by the segments' compiler.
    rules = {
        "match": "all",
        "rules": [
            ("tag", {"has": True, "tag": "VIP"}),
            (
                "field",
                {
                    "field": "custom",
                    "custom_field": "plan",
                    "custom_type": "text",
                    "operator": "not_equals",
                    "value": "free",
                },
            ),
        ],
        "content": [("heading", {"text": "Members only", "level": "h2"})],
    }
    email_template = template([("conditional", rules)])
    vip = ContactFactory(custom_fields={"plan": "gold"})
    vip.tags.add("vip")
    free_vip = ContactFactory(custom_fields={"plan": "free"})
    free_vip.tags.add("vip")

    shown = render_email(email_template, vip)
    assert "Members only" in shown.html and "Members only" in shown.text
    for contact in (free_vip, ContactFactory()):
        hidden = render_email(email_template, contact)
        assert "Members only" not in hidden.html and "Members only" not in hidden.text


def test_columns_render_both_sides():
    email_template = template(
        [
            (
                "columns",
                {
                    "left": [("heading", {"text": "Left side", "level": "h3"})],
                    "right": [
                        ("button", {"label": "Right", "page": None, "url": "https://x.org/r"})
                    ],
                },
            ),
            ("spacer", {"height": 32}),
            ("raw_html", '<p>Raw <a href="/raw/">link</a></p>'),
        ]
    )
    rendered = render_email(email_template, ContactFactory())
    assert 'class="column column-left"' in rendered.html
    assert "Left side" in rendered.html and "https://x.org/r" in rendered.html
    assert f'href="{BASE}/raw/"' in rendered.html
    assert "Left side" in rendered.text and "Right: https://x.org/r" in rendered.text
    assert f"Raw link ({BASE}/raw/)" in rendered.text


def test_a_batch_session_shares_its_queries(shop, django_assert_max_num_queries):
    contacts = [ContactFactory() for _ in range(5)]
    for contact in contacts:
        cart_with(contact, shop["A"], shop["B"])
    email_template = template(
        [
            ("heading", {"text": "Hi {{ contact.first_name }}", "level": "h1"}),
            ("cart_items", {"heading": "Your cart", "button_label": "Back", "show_images": True}),
            ("recommendations", {"heading": "More", "count": 3}),
        ]
    )
    session = RenderSession()
    render_email(email_template, contacts[0], session=session)
    for contact in contacts[1:]:
        message = message_for(contact, email_template)
        with django_assert_max_num_queries(4):
            rendered = render_email(email_template, contact, message=message, session=session)
        assert "Ethiopia beans" in rendered.html
    # Prefetched for the whole batch: no query of their own at all.
    session.prefetch(contacts)
    for contact in contacts:
        message = message_for(contact, email_template)
        with django_assert_max_num_queries(0):
            rendered = render_email(email_template, contact, message=message, session=session)
        assert "Ethiopia beans" in rendered.html
