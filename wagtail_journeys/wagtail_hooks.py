from wagtail import hooks

from wagtail_journeys.tracking.pages import track_page_views

# order=1: inside core's view-restriction check (order 0), see tracking/pages.py.
hooks.register("on_serve_page", track_page_views, order=1)
