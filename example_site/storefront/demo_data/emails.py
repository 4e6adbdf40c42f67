"""The demo's email side: brand, topics, templates and the newsletter signup.

Like every demo step, each function finds what an earlier run made (by name
or slug) and leaves it as it is.
"""

from wagtail.models import Site
from wagtail.rich_text import RichText

from wagtail_journeys.models import EmailBrandSettings, EmailTemplate, SignupForm, Topic

from . import content

POSTAL_ADDRESS = "Kettle & Bean Ltd\n12 Roastery Lane\nBristol BS1 4DJ\nUnited Kingdom"

TOPICS = [
    ("Newsletter", "newsletter", "New coffees and brewing tips, twice a month."),
    ("Offers", "offers", "Discounts and the occasional sale."),
]


def text(html: str) -> dict:
    return {"type": "text", "value": RichText(html).source}


WELCOME_BODY = [
    {
        "type": "heading",
        "value": {"text": "Welcome, {{ contact.first_name|default:'friend' }}!", "level": "h1"},
    },
    text(
        "<p>Thank you for joining the Kettle &amp; Bean newsletter. Twice a month we write "
        "about what we roast, how to brew it, and the odd discount.</p>"
    ),
    {
        "type": "discount",
        "value": {
            "text": "Here is 10% off your first order, just for you:",
            "kind": "unique",
            "code": "",
            "prefix": "WELCOME",
        },
    },
    {"type": "recommendations", "value": {"heading": "Where to start", "count": 3}},
    {"type": "button", "value": {"label": "Visit the shop", "page": None, "url": ""}},
]

CART_BODY = [
    {"type": "heading", "value": {"text": "You left something behind", "level": "h1"}},
    text(
        "<p>Hi {{ contact.first_name|default:'there' }}, your cart is still waiting for you. "
        "Beans are roasted every Monday, so order soon for the freshest batch.</p>"
    ),
    {
        "type": "cart_items",
        "value": {
            "heading": "Your cart",
            "button_label": "Return to your cart",
            "show_images": True,
        },
    },
    {"type": "divider", "value": None},
    {"type": "recommendations", "value": {"heading": "You might also like", "count": 3}},
]

TEMPLATES = [
    {
        "name": "Welcome to the newsletter",
        "subject": "Welcome to Kettle & Bean, {{ contact.first_name|default:'friend' }}",
        "preheader": "Your 10% welcome code is inside.",
        "topic": "newsletter",
        "body": WELCOME_BODY,
    },
    {
        "name": "Abandoned cart reminder",
        "subject": "Your cart is waiting",
        "preheader": "The beans you picked are still here.",
        "topic": "offers",
        "body": CART_BODY,
    },
]


def _link_buttons(block: dict, page) -> dict:
    if block["type"] != "button":
        return block
    return {**block, "value": {**block["value"], "page": page.pk}}


def create_brand() -> bool:
    """Brand settings of the default site: name, colours, the postal address the law asks for."""
    site = Site.objects.get(is_default_site=True)
    brand = EmailBrandSettings.for_site(site)
    if brand.postal_address:
        return False
    brand.company_name = content.SITE_NAME
    brand.primary_colour = "#8c4a2f"
    brand.background_colour = "#f6f1eb"
    brand.text_colour = "#2b1d14"
    brand.postal_address = POSTAL_ADDRESS
    brand.footer_text = "You get this email because you signed up at kettleandbean.example."
    brand.save()
    return True


def create_topics() -> dict[str, Topic]:
    topics = {}
    for name, slug, description in TOPICS:
        topics[slug], _ = Topic.objects.get_or_create(
            slug=slug, defaults={"name": name, "description": description}
        )
    return topics


def create_templates(topics: dict[str, Topic], shop) -> list[EmailTemplate]:
    """The demo's email templates, each saved with a first revision; buttons lead to ``shop``."""
    created = []
    for data in TEMPLATES:
        if EmailTemplate.objects.filter(name=data["name"]).exists():
            continue
        template = EmailTemplate(
            name=data["name"],
            subject=data["subject"],
            preheader=data["preheader"],
            topic=topics[data["topic"]],
            body=[_link_buttons(block, shop) for block in data["body"]],
        )
        template.full_clean()
        template.save()
        template.save_revision()
        created.append(template)
    return created


def create_signup_form(newsletter_page, topics: dict[str, Topic]) -> bool:
    """The newsletter form subscribes, after a confirmation email (double opt-in)."""
    signup, created = SignupForm.objects.get_or_create(
        page=newsletter_page, defaults={"double_opt_in": True}
    )
    if created:
        signup.topics.set(topics.values())
    return created


#: An SMS and a push template for the channel steps (sent through the console backends).
SMS_TEMPLATES = [
    {
        "name": "Basket reminder (SMS)",
        "kind": "marketing",
        "body": "Hi {{ contact.first_name|default:'there' }}, your basket at {{ site_name }} is "
        "waiting for you. Reply STOP to opt out.",
    },
]
PUSH_TEMPLATES = [
    {
        "name": "New roast (push)",
        "kind": "marketing",
        "title": "A new roast is in",
        "body": "Fresh from the roaster this week: have a look.",
        "url": "/shop/",
    },
]


def create_channel_templates() -> list:
    """The demo's SMS and push templates, each saved with a first revision."""
    from wagtail_journeys.models import PushTemplate, SmsTemplate

    created = []
    for model, specs in ((SmsTemplate, SMS_TEMPLATES), (PushTemplate, PUSH_TEMPLATES)):
        for data in specs:
            if model.objects.filter(name=data["name"]).exists():
                continue
            template = model(**data)
            template.full_clean()
            template.save()
            template.save_revision()
            created.append(template)
    return created
