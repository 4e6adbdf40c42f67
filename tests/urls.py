from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls

urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("journeys/", include("wagtail_journeys.urls")),
    path("anymail/", include("anymail.urls")),
    path("", include("example_site.storefront.urls")),
    path("", include(wagtail_urls)),
]
