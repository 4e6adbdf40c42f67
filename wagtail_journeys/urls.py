"""URLs of wagtail-journeys.

Include them before Wagtail's own: ``path("journeys/", include("wagtail_journeys.urls"))``.
"""

from django.urls import path

from wagtail_journeys.views import carts, email, push, sms, tracking

app_name = "wagtail_journeys"

urlpatterns = [
    path("collect/", tracking.collect, name="collect"),
    path("o/<str:token>/", email.open_pixel, name="open"),
    path("c/<str:token>/<int:index>/", email.click, name="click"),
    path("u/<str:token>/", email.unsubscribe, name="unsubscribe"),
    path("p/<str:token>/", email.preferences, name="preferences"),
    path("confirm/<str:token>/", email.confirm, name="confirm"),
    path("cart/<str:token>/", carts.restore_cart, name="restore_cart"),
    path("push/subscribe/", push.subscribe, name="push_subscribe"),
    path("push/unsubscribe/", push.unsubscribe, name="push_unsubscribe"),
    path("push/sw.js", push.service_worker, name="push_service_worker"),
    path("push/c/<str:token>/", push.click, name="push_click"),
    path("sms/status/", sms.twilio_status, name="sms_status"),
    path("sms/inbound/", sms.twilio_inbound, name="sms_inbound"),
]
