"""The words and numbers of the demo shop, kept apart from the code that stores them.

Edit this module to change what ``load_demo_data`` creates on a fresh
database; existing pages are never overwritten.
"""

from dataclasses import dataclass, field
from decimal import Decimal

SITE_NAME = "Kettle & Bean"


@dataclass(frozen=True)
class CategoryData:
    name: str
    slug: str
    description: str
    #: How product images of this category are drawn (see images.py).
    motif: str


@dataclass(frozen=True)
class ProductData:
    title: str
    sku: str
    price: Decimal
    category: str
    colour: str
    summary: str
    paragraphs: list[str] = field(default_factory=list)
    #: Draw this motif instead of the category's (see images.MOTIFS).
    motif: str = ""


CATEGORIES = [
    CategoryData(
        "Coffee", "coffee", "Single origins and blends, roasted every Monday.", motif="bag"
    ),
    CategoryData("Tea", "tea", "Loose-leaf teas from small gardens.", motif="tin"),
    CategoryData("Equipment", "equipment", "Everything for a better cup at home.", motif="tool"),
]

PRODUCTS = [
    ProductData(
        "Ethiopia Yirgacheffe",
        "KB-COF-001",
        Decimal("14.50"),
        "coffee",
        "#8c4a2f",
        "Floral and bright, with notes of jasmine, bergamot and lemon. 250 g whole beans.",
        [
            "Grown at 2,000 metres by the smallholders of the Konga cooperative and washed "
            "at their own station.",
            "A light roast keeps it delicate: brew it as pour-over to taste the jasmine.",
        ],
    ),
    ProductData(
        "Colombia Huila",
        "KB-COF-002",
        Decimal("12.90"),
        "coffee",
        "#a0522d",
        "Round and sweet: red apple, caramel and milk chocolate. 250 g whole beans.",
        ["A crowd-pleaser that works in every brewer, from a French press to an espresso machine."],
    ),
    ProductData(
        "House Espresso Blend",
        "KB-COF-003",
        Decimal("11.50"),
        "coffee",
        "#4e2a1e",
        "Our everyday espresso: dark chocolate, hazelnut and a long finish. 250 g whole beans.",
        ["Brazil and Guatemala, roasted a little darker for milk drinks."],
    ),
    ProductData(
        "Darjeeling First Flush",
        "KB-TEA-001",
        Decimal("9.80"),
        "tea",
        "#5b7f3a",
        "The spring harvest: muscatel grape and fresh-cut grass. 100 g loose leaf.",
        ["Brew at 85 °C for three minutes; the leaves give a second, sweeter cup."],
    ),
    ProductData(
        "Sencha Green Tea",
        "KB-TEA-002",
        Decimal("8.40"),
        "tea",
        "#3d7a5a",
        "Steamed Japanese green tea, savoury and sweet. 100 g loose leaf.",
        ["Cooler water (70 °C) keeps it from turning bitter."],
    ),
    ProductData(
        "Earl Grey Supreme",
        "KB-TEA-003",
        Decimal("7.90"),
        "tea",
        "#4a5a8c",
        "Black tea with cold-pressed bergamot and blue cornflowers. 100 g loose leaf.",
        ["Lovely with a splash of milk, or iced in summer."],
    ),
    ProductData(
        "Pour-over Dripper",
        "KB-EQP-001",
        Decimal("24.00"),
        "equipment",
        "#b0703a",
        "A porcelain cone dripper for one or two cups. Fits standard size 02 filters.",
        ["Porcelain holds the heat, so the last pour brews as well as the first."],
    ),
    ProductData(
        "Hand Grinder",
        "KB-EQP-002",
        Decimal("59.00"),
        "equipment",
        "#5c5c66",
        "Steel burrs and 40 grind settings, from espresso to French press.",
        ["Freshly ground beans are the single biggest upgrade to a home brew."],
        motif="grinder",
    ),
]

PRICING_PLANS = [
    {
        "name": "Taster",
        "price": Decimal("12.00"),
        "period": "month",
        "description": "One bag a month, a different origin every time.",
        "features": ["1 × 250 g", "Tasting notes card", "Pause or cancel any time"],
        "cta_text": "Start tasting",
        "highlighted": False,
    },
    {
        "name": "Regular",
        "price": Decimal("22.00"),
        "period": "month",
        "description": "Two bags a month: your favourite and a surprise.",
        "features": ["2 × 250 g", "Free shipping", "10 % off equipment"],
        "cta_text": "Choose Regular",
        "highlighted": True,
    },
    {
        "name": "Café",
        "price": Decimal("59.00"),
        "period": "month",
        "description": "For offices and small cafés.",
        "features": ["2 kg of espresso blend", "Free shipping", "A grinder on loan"],
        "cta_text": "Talk to us",
        "highlighted": False,
    },
]

FAQ = [
    (
        "How fresh is the coffee?",
        "<p>We roast every Monday and ship within two days, so it reaches you a few days "
        "after roasting: the best time to brew it.</p>",
    ),
    (
        "Can I pause my subscription?",
        "<p>Yes, at any time and for as long as you like. Skip a month from your account "
        "or just write to us.</p>",
    ),
    (
        "Do you ship abroad?",
        "<p>We ship everywhere in the EU. Shipping is free on orders over €40.</p>",
    ),
    (
        "Whole beans or ground?",
        "<p>Whole beans keep their flavour far longer. If you have no grinder yet, "
        "ask for ground coffee in the order notes.</p>",
    ),
]

SHOP_INTRODUCTION = (
    "Coffee, tea and the gear to brew them. Roasted on Mondays, shipped by Wednesday."
)
PRICING_INTRODUCTION = (
    "A coffee subscription that fits your week. Pause or cancel whenever you like."
)

HOME_HERO_TEXT = "Small-batch coffee and tea, roasted every Monday and sent to your door."

HOME_BODY = [
    ("heading_block", {"heading_text": "Why Kettle & Bean?", "size": "h2"}),
    (
        "paragraph_block",
        "<p>We buy directly from the farms, roast in small batches and ship the same week. "
        'Join the <a href="/newsletter/">newsletter</a> for brewing tips and new arrivals.</p>',
    ),
    (
        "block_quote",
        {"text": "The Colombia Huila is my morning ritual now.", "attribute_name": "Maria, Ghent"},
    ),
]

ABOUT_PARAGRAPHS = [
    "Kettle & Bean started in a garage with a second-hand roaster and a very patient "
    "neighbour. Today we roast a few hundred kilos a week, still by hand.",
    "This shop is the demo site of wagtail-journeys: browse, add to the cart, leave, sign "
    "up for the newsletter, and watch the journeys react in the admin.",
]

BLOG_POST = {
    "title": "How to brew the perfect pour-over",
    "slug": "perfect-pour-over",
    "author": "Sam, head roaster",
    "introduction": "Four minutes, three pours and one rule: weigh everything.",
    "paragraphs": [
        "Use 15 g of coffee for 250 g of water just off the boil. Grind it like coarse sand.",
        "Bloom with 40 g of water for 30 seconds, then pour the rest in two slow circles. "
        "The whole brew should take three to four minutes.",
        "Too bitter? Grind coarser. Too sour? Grind finer. That is all there is to it.",
    ],
}
