"""Demo images, drawn with Pillow: nothing is downloaded.

Each product gets a flat illustration in its own colour (a bag for coffee, a
tin for tea, a tool for equipment) with its name underneath, which is enough
to tell products apart in the shop, the cart and in journey emails.
"""

import hashlib
import math
import textwrap
from functools import lru_cache
from io import BytesIO

from django.core.files.images import ImageFile
from django.utils.text import slugify
from PIL import Image as PILImage
from PIL import ImageColor, ImageDraw, ImageFont
from wagtail.images import get_image_model
from wagtail.models import Collection

COLLECTION_NAME = "Demo images"
CREAM = (251, 248, 244)
WHITE = (255, 255, 255)


def get_demo_collection() -> Collection:
    """The collection that holds every demo image, so editors can find (or delete) them."""
    root = Collection.get_first_root_node()
    collection = root.get_children().filter(name=COLLECTION_NAME).first()
    return collection or root.add_child(name=COLLECTION_NAME)


def get_or_create_image(collection: Collection, title: str, draw) -> tuple[object, bool]:
    """The image titled ``title`` in ``collection``, drawn by ``draw()`` (PNG bytes) if missing."""
    Image = get_image_model()
    image = Image.objects.filter(collection=collection, title=title).first()
    if image is not None:
        return image, False
    data = draw()
    image = Image(
        title=title,
        collection=collection,
        file=ImageFile(BytesIO(data), name=f"{slugify(title)}.png"),
        # What Wagtail's upload form records; the hash powers its duplicate check.
        file_size=len(data),
        file_hash=hashlib.sha1(data).hexdigest(),
    )
    image.save()
    return image, True


def _font(size: int) -> ImageFont.ImageFont:
    # Pillow's bundled font: no system font or download needed.
    return ImageFont.load_default(size=size)


def _shade(colour: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    """``colour`` darker (factor < 1) or lighter (factor > 1)."""
    return tuple(max(0, min(255, round(channel * factor))) for channel in colour)


def _png(image: PILImage.Image) -> bytes:
    buffer = BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _centred_text(draw, box_width: int, top: int, text: str, font, fill, max_chars: int) -> None:
    """Draw ``text`` wrapped to ``max_chars`` per line, each line centred."""
    for line in textwrap.wrap(text, max_chars):
        width = draw.textlength(line, font=font)
        draw.text(((box_width - width) / 2, top), line, font=font, fill=fill)
        top += round(font.size * 1.25)


def _draw_bag(draw, colour) -> None:
    draw.rounded_rectangle((250, 150, 550, 560), radius=28, fill=colour)
    draw.polygon([(250, 190), (550, 190), (520, 150), (280, 150)], fill=_shade(colour, 0.7))
    # A coffee bean on the label.
    draw.ellipse((330, 280, 470, 440), fill=CREAM)
    draw.arc((365, 290, 435, 430), start=100, end=260, fill=_shade(colour, 0.8), width=10)


def _draw_tin(draw, colour) -> None:
    draw.rounded_rectangle((270, 200, 530, 560), radius=18, fill=colour)
    draw.rounded_rectangle((255, 160, 545, 220), radius=14, fill=_shade(colour, 0.7))
    # A tea leaf on the label: pointed at both ends, tilted.
    draw.polygon(_leaf(centre=(400, 380), length=180, width=90, angle=-40), fill=CREAM)
    draw.line((340, 430, 460, 330), fill=_shade(colour, 0.9), width=6)


def _leaf(centre, length, width, angle, steps=24) -> list[tuple[float, float]]:
    """The outline of a leaf (a lens shape) of ``length`` × ``width`` rotated by ``angle``°."""
    cx, cy = centre
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    points = []
    for side in (1, -1):
        for step in range(steps + 1):
            x = -1 + 2 * step / steps if side == 1 else 1 - 2 * step / steps
            y = side * (1 - x * x) * width / 2
            x *= length / 2
            points.append((cx + x * cos - y * sin, cy + x * sin + y * cos))
    return points


def _draw_tool(draw, colour) -> None:
    # A cone dripper on a cup: reads as “brewing gear” for any tool.
    draw.polygon([(240, 170), (560, 170), (460, 400), (340, 400)], fill=colour)
    draw.rectangle((300, 400, 500, 430), fill=_shade(colour, 0.7))
    draw.rounded_rectangle((310, 440, 490, 570), radius=24, fill=_shade(colour, 1.3))
    draw.arc((470, 470, 540, 540), start=270, end=90, fill=_shade(colour, 1.3), width=14)


def _draw_grinder(draw, colour) -> None:
    draw.rounded_rectangle((300, 300, 500, 570), radius=20, fill=colour)
    draw.rectangle((330, 210, 470, 300), fill=_shade(colour, 1.3))
    draw.ellipse((330, 190, 470, 230), fill=_shade(colour, 0.7))
    # The crank and its knob.
    draw.line((400, 200, 400, 150, 560, 150), fill=_shade(colour, 0.6), width=16, joint="curve")
    draw.ellipse((540, 120, 600, 180), fill=_shade(colour, 0.6))
    draw.ellipse((370, 400, 430, 460), fill=CREAM)


MOTIFS = {"bag": _draw_bag, "tin": _draw_tin, "tool": _draw_tool, "grinder": _draw_grinder}


# Cached: the drawings never change, and tests load the demo data many times.
@lru_cache(maxsize=32)
def draw_product_image(title: str, colour: str, motif: str) -> bytes:
    """An 800 × 800 PNG of ``motif`` in ``colour`` with ``title`` below it."""
    rgb = ImageColor.getrgb(colour)
    image = PILImage.new("RGB", (800, 800), CREAM)
    draw = ImageDraw.Draw(image)
    draw.ellipse((150, 90, 650, 590), fill=_shade(rgb, 1.6))
    MOTIFS[motif](draw, rgb)
    _centred_text(draw, 800, 630, title, _font(54), _shade(rgb, 0.6), max_chars=22)
    return _png(image)


@lru_cache(maxsize=8)
def draw_banner_image(colour: str, title: str = "", size: tuple[int, int] = (1600, 600)) -> bytes:
    """A wide PNG: a dark ``colour`` with scattered beans and an optional ``title``.

    The home page's hero prints its own heading over the image, so it has none.
    """
    rgb = ImageColor.getrgb(colour)
    width, height = size
    image = PILImage.new("RGB", size, rgb)
    draw = ImageDraw.Draw(image)
    # Beans on a fixed grid, so the same title always gives the same picture.
    for row in range(0, height + 120, 120):
        for col in range(-60 if row % 240 else 0, width + 120, 160):
            draw.ellipse((col, row, col + 70, row + 90), fill=_shade(rgb, 1.25))
            draw.arc((col + 18, row + 8, col + 52, row + 82), 100, 260, fill=rgb, width=6)
    if title:
        font = _font(round(height / 7))
        _centred_text(draw, width, round(height * 0.4), title, font, WHITE, max_chars=30)
    return _png(image)
