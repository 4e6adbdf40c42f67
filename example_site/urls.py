"""URLs of the demo storefront.

Order matters: the storefront's own views (cart, checkout, login) and the
plugin's tracking endpoint come before Wagtail's catch-all page serving.
"""

from django.conf import settings
from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("journeys/", include("wagtail_journeys.urls")),
    path("anymail/", include("anymail.urls")),
    path("", include("example_site.storefront.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    # runserver serves static files by itself, but not uploaded media such as
    # the generated product images.
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

urlpatterns += [path("", include(wagtail_urls))]
