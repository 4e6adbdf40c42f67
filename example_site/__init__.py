"""The wagtail-journeys demo storefront: a small Wagtail shop that uses the plugin.

Run it with ``make demo`` from the repository root; see ``storefront/`` for
the pages, the cart and checkout views and the demo data.
"""
