"""The documentation covers what the code has: every setting, every page in the site's menu."""

from pathlib import Path

import pytest

from wagtail_journeys import conf

DOCS = Path(__file__).resolve().parent.parent / "docs"
MKDOCS = DOCS.parent / "mkdocs.yml"


@pytest.mark.parametrize("name", sorted(conf.DEFAULTS))
def test_every_setting_is_in_the_settings_reference(name):
    assert f"`{name}`" in (DOCS / "settings.md").read_text()


def test_every_page_is_in_the_navigation():
    nav = MKDOCS.read_text().split("\nnav:", 1)[1]
    pages = sorted(str(page.relative_to(DOCS)) for page in DOCS.rglob("*.md"))
    assert [page for page in pages if f": {page}\n" not in nav] == []
