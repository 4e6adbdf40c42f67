from wagtail import hooks
from wagtail.snippets.models import register_snippet

from wagtail_journeys.admin.dashboard import summary_panel
from wagtail_journeys.admin.menu import JourneysViewSetGroup
from wagtail_journeys.tracking.pages import track_page_views

# order=1: inside core's view-restriction check (order 0), see tracking/pages.py.
hooks.register("on_serve_page", track_page_views, order=1)
hooks.register("construct_homepage_panels", summary_panel)
# Registered now rather than through the register_admin_viewset hook (which runs when the
# admin URLs load): the snippets among them (journeys, segments) are then known to Wagtail's
# post_migrate handler, which creates the journeys' publish, lock and unlock permissions.
register_snippet(JourneysViewSetGroup)
