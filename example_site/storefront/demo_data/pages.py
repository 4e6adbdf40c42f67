"""The page tree of the demo shop and the Site that serves it.

Every function finds what an earlier run created (by slug) and leaves it as
it is, so loading twice creates nothing new and never overwrites an edit.
"""

from datetime import date

from django.contrib.contenttypes.models import ContentType
from django.utils.text import slugify
from wagtail.models import Page, Site

from ..models import (
    BlogIndexPage,
    BlogPage,
    ContactFormField,
    ContactFormPage,
    HomePage,
    NewsletterFormField,
    NewsletterFormPage,
    PricingPage,
    ProductCategory,
    ProductIndexPage,
    ProductPage,
    StandardPage,
)
from . import content

SITE_HOSTNAME = "127.0.0.1"
SITE_PORT = 8000


def paragraph(html: str) -> dict:
    """A ``paragraph_block`` in StreamField's JSON form."""
    return {"type": "paragraph_block", "value": html}


def get_or_create_child(parent: Page, model: type[Page], slug: str, **fields) -> tuple[Page, bool]:
    """The child of ``parent`` at ``slug``, or a new published ``model`` page there."""
    existing = parent.get_children().filter(slug=slug).first()
    if existing is not None:
        return existing.specific, False
    page = model(slug=slug, **fields)
    parent.add_child(instance=page)
    # A revision, so that the page opens in the editor as published.
    page.save_revision().publish()
    return page, True


def remove_welcome_page() -> bool:
    """Delete the “Welcome to your new Wagtail site!” page of a fresh database.

    Only a plain ``Page`` at ``/home/`` with nothing below it: anything an
    editor made stays. Its Site goes with it; ``configure_site`` makes ours.
    """
    page_type = ContentType.objects.get_for_model(Page)
    welcome = (
        Page.get_first_root_node()
        .get_children()
        .filter(slug="home", content_type=page_type, numchild=0)
        .first()
    )
    if welcome is None:
        return False
    welcome.delete()
    return True


def create_home_page(images: dict) -> tuple[HomePage, bool]:
    """The one HomePage, directly below the tree's root."""
    home = HomePage.objects.first()
    if home is not None:
        return home, False
    remove_welcome_page()
    return get_or_create_child(
        Page.get_first_root_node(),
        HomePage,
        "home",
        title=content.SITE_NAME,
        hero_text=content.HOME_HERO_TEXT,
        hero_cta="Shop the roast",
        image=images["hero"],
        featured_section_title="Fresh this week",
        body=[{"type": name, "value": value} for name, value in content.HOME_BODY],
    )


def link_home_page(home: HomePage, shop: ProductIndexPage) -> bool:
    """Point the hero button and the featured section at the shop (the shop is made after home)."""
    if home.hero_cta_link_id or home.featured_section_id:
        return False
    home.hero_cta_link = shop
    home.featured_section = shop
    home.save_revision().publish()
    return True


def configure_site(home: HomePage) -> bool:
    """Make the default Site serve ``home`` at 127.0.0.1:8000, the address README gives.

    True when something changed.
    """
    wanted = {
        "hostname": SITE_HOSTNAME,
        "port": SITE_PORT,
        "root_page_id": home.pk,
        "site_name": content.SITE_NAME,
        "is_default_site": True,
    }
    site = (
        Site.objects.filter(is_default_site=True).first()
        or Site.objects.filter(hostname=SITE_HOSTNAME, port=SITE_PORT).first()
    )
    if site is None:
        Site.objects.create(**wanted)
        return True
    changed = {name: value for name, value in wanted.items() if getattr(site, name) != value}
    if not changed:
        return False
    for name, value in changed.items():
        setattr(site, name, value)
    site.save()
    return True


def create_categories() -> tuple[dict[str, ProductCategory], list[ProductCategory]]:
    """The product categories by slug, and the ones this call created."""
    categories, created = {}, []
    for data in content.CATEGORIES:
        category, is_new = ProductCategory.objects.get_or_create(
            slug=data.slug, defaults={"name": data.name, "description": data.description}
        )
        categories[data.slug] = category
        if is_new:
            created.append(category)
    return categories, created


def create_shop(home: HomePage) -> tuple[ProductIndexPage, bool]:
    """The product listing at ``/shop/``."""
    return get_or_create_child(
        home,
        ProductIndexPage,
        "shop",
        title="Shop",
        introduction=content.SHOP_INTRODUCTION,
        show_in_menus=True,
    )


def create_products(shop: ProductIndexPage, categories: dict, images: dict) -> list[ProductPage]:
    """One published ProductPage per ``content.PRODUCTS`` entry. Returns the new ones."""
    created = []
    for data in content.PRODUCTS:
        page, is_new = get_or_create_child(
            shop,
            ProductPage,
            slugify(data.title),
            title=data.title,
            sku=data.sku,
            price=data.price,
            category=categories[data.category],
            image=images[data.sku],
            summary=data.summary,
            body=[paragraph(f"<p>{text}</p>") for text in data.paragraphs],
        )
        if is_new:
            created.append(page)
    return created


def create_pricing_page(home: HomePage, shop: ProductIndexPage) -> tuple[PricingPage, bool]:
    """The subscription plans, each button leading to the shop."""
    plans = [
        {
            "type": "plan",
            "value": {**plan, "price": str(plan["price"]), "cta_page": shop.pk},
        }
        for plan in content.PRICING_PLANS
    ]
    return get_or_create_child(
        home,
        PricingPage,
        "pricing",
        title="Pricing",
        introduction=content.PRICING_INTRODUCTION,
        plans=plans,
        body=[
            {"type": "heading_block", "value": {"heading_text": "Questions", "size": "h2"}},
            *(
                {"type": "question_block", "value": {"question": question, "answer": answer}}
                for question, answer in content.FAQ[:2]
            ),
        ],
        show_in_menus=True,
    )


def create_blog(home: HomePage, images: dict) -> tuple[BlogIndexPage, bool]:
    """The blog listing and its one post; True when either was created."""
    blog, blog_created = get_or_create_child(
        home,
        BlogIndexPage,
        "blog",
        title="Blog",
        introduction="Brewing guides and news from the roastery.",
        show_in_menus=True,
    )
    post = content.BLOG_POST
    _, post_created = get_or_create_child(
        blog,
        BlogPage,
        post["slug"],
        title=post["title"],
        introduction=post["introduction"],
        author=post["author"],
        date_published=date(2025, 3, 3),
        image=images["blog"],
        body=[paragraph(f"<p>{text}</p>") for text in post["paragraphs"]],
    )
    return blog, blog_created or post_created


def create_standard_pages(home: HomePage, images: dict) -> list[StandardPage]:
    """About and FAQ. Returns the new ones."""
    about, about_created = get_or_create_child(
        home,
        StandardPage,
        "about",
        title="About us",
        introduction="A small roastery with a big kettle.",
        image=images["about"],
        body=[paragraph(f"<p>{text}</p>") for text in content.ABOUT_PARAGRAPHS],
        show_in_menus=True,
    )
    faq, faq_created = get_or_create_child(
        home,
        StandardPage,
        "faq",
        title="FAQ",
        introduction="Answers to what people ask us most.",
        body=[
            {"type": "question_block", "value": {"question": question, "answer": answer}}
            for question, answer in content.FAQ
        ],
        show_in_menus=True,
    )
    return [page for page, created in ((about, about_created), (faq, faq_created)) if created]


def create_newsletter_page(home: HomePage) -> tuple[NewsletterFormPage, bool]:
    """The signup form: an email field (which identifies the visitor) and a first name."""
    return get_or_create_child(
        home,
        NewsletterFormPage,
        "newsletter",
        title="Newsletter",
        intro="<p>New coffees, brewing tips and the odd discount, twice a month.</p>",
        thank_you_text=(
            "<p>Thank you! Please confirm your subscription with the link we just emailed you.</p>"
        ),
        # No recipient: submissions are stored (and tracked) but not emailed.
        to_address="",
        from_address="shop@example.com",
        subject="New newsletter signup",
        form_fields=[
            NewsletterFormField(sort_order=0, label="Email", field_type="email", required=True),
            NewsletterFormField(
                sort_order=1, label="First name", field_type="singleline", required=False
            ),
        ],
    )


def create_contact_page(home: HomePage) -> tuple[ContactFormPage, bool]:
    """The contact form: name, email (identifies the visitor) and a message."""
    return get_or_create_child(
        home,
        ContactFormPage,
        "contact",
        title="Contact",
        intro="<p>Questions about an order, a subscription or brewing? Write to us.</p>",
        thank_you_text="<p>Thanks for your message! We answer within one working day.</p>",
        form_fields=[
            ContactFormField(sort_order=0, label="Name", field_type="singleline", required=True),
            ContactFormField(sort_order=1, label="Email", field_type="email", required=True),
            ContactFormField(sort_order=2, label="Message", field_type="multiline", required=True),
        ],
        show_in_menus=True,
    )
