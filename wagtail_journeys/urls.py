"""URLs of wagtail-journeys.

Include them before Wagtail's own: ``path("journeys/", include("wagtail_journeys.urls"))``.
"""

from django.urls import path

from wagtail_journeys.views import tracking

app_name = "wagtail_journeys"

urlpatterns = [
    path("collect/", tracking.collect, name="collect"),
]
