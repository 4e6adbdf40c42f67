from wagtail import hooks
from wagtail.snippets.models import register_snippet

from wagtail_journeys.admin.email_templates import EmailTemplateViewSet
from wagtail_journeys.admin.menu import AudienceViewSetGroup
from wagtail_journeys.tracking.pages import track_page_views

# order=1: inside core's view-restriction check (order 0), see tracking/pages.py.
hooks.register("on_serve_page", track_page_views, order=1)
hooks.register("register_admin_viewset", AudienceViewSetGroup)
register_snippet(EmailTemplateViewSet)
