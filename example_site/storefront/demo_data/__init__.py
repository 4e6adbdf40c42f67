"""Everything ``manage.py load_demo_data`` creates, as small functions tests can call.

``load_demo_data()`` runs the steps in order, in one transaction. Each step
finds what an earlier run made and keeps it, so the command is safe to run on
every ``make demo``. To add demo content (journeys, email templates,
segments), write a step in its own module and call it from ``load_demo_data``.
"""

from dataclasses import dataclass, field

from django.db import transaction

from . import content, emails, images, journeys, pages, segments, users


@dataclass
class LoadReport:
    """What one run created; empty when the data was already there."""

    created: list[str] = field(default_factory=list)

    def add(self, created: bool, description: str) -> None:
        if created:
            self.created.append(description)


def create_images() -> tuple[dict, LoadReport]:
    """Product images keyed by SKU, plus ``hero``, ``about`` and ``blog`` banners."""
    report = LoadReport()
    collection = images.get_demo_collection()
    motifs = {category.slug: category.motif for category in content.CATEGORIES}
    made = {}
    for product in content.PRODUCTS:
        made[product.sku], created = images.get_or_create_image(
            collection,
            product.title,
            lambda product=product: images.draw_product_image(
                product.title, product.colour, product.motif or motifs[product.category]
            ),
        )
        report.add(created, f"image “{product.title}”")
    banners = {
        "hero": ("Kettle & Bean hero", lambda: images.draw_banner_image("#5a2c13")),
        "about": (
            "Kettle & Bean roastery",
            lambda: images.draw_banner_image("#2f6f5e", "Roasted by hand", (1200, 500)),
        ),
        "blog": (
            content.BLOG_POST["title"],
            lambda: images.draw_banner_image("#7a3e1d", "Pour-over, step by step", (1200, 600)),
        ),
    }
    for key, (title, draw) in banners.items():
        made[key], created = images.get_or_create_image(collection, title, draw)
        report.add(created, f"image “{title}”")
    return made, report


@transaction.atomic
def load_demo_data() -> LoadReport:
    """Create whatever part of the demo shop is missing and report what was made."""
    made_images, report = create_images()
    categories, new_categories = pages.create_categories()
    for category in new_categories:
        report.add(True, f"product category “{category.name}”")

    home, created = pages.create_home_page(made_images)
    report.add(created, "home page")
    report.add(
        pages.configure_site(home),
        f"site {pages.SITE_HOSTNAME}:{pages.SITE_PORT} serving the home page",
    )

    shop, created = pages.create_shop(home)
    report.add(created, "shop page /shop/")
    report.add(pages.link_home_page(home, shop), "home page links to the shop")
    for product in pages.create_products(shop, categories, made_images):
        report.add(True, f"product “{product.title}”")

    newsletter, created = pages.create_newsletter_page(home)
    report.add(created, "newsletter form /newsletter/")
    for description, (_, created) in (
        ("pricing page /pricing/", pages.create_pricing_page(home, shop)),
        ("blog /blog/", pages.create_blog(home, made_images)),
        ("contact form /contact/", pages.create_contact_page(home)),
    ):
        report.add(created, description)
    for page in pages.create_standard_pages(home, made_images):
        report.add(True, f"page /{page.slug}/")

    report.add(emails.create_brand(), "email branding with the postal address")
    topics = emails.create_topics()
    for template in emails.create_templates(topics, shop):
        report.add(True, f"email template “{template.name}”")
    for template in emails.create_channel_templates():
        report.add(True, f"{template._meta.verbose_name} “{template.name}”")
    report.add(
        emails.create_signup_form(newsletter, topics),
        "newsletter signup with double opt-in",
    )

    for segment in segments.create_segments():
        report.add(True, f"segment “{segment.name}”")

    admin, created = users.create_admin_user()
    report.add(created, f"superuser “{users.ADMIN_USERNAME}”")

    # After the admin: the journeys' revisions are theirs.
    for journey in journeys.create_journeys(shop, user=admin):
        report.add(True, f"journey “{journey.name}” (published)")
    return report
