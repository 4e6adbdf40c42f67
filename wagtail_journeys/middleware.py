"""``VisitorMiddleware``: knows the visitor of every request."""

from wagtail_journeys.tracking.visitors import Visitor


class VisitorMiddleware:
    """Attach a lazy ``Visitor`` as ``request.journeys`` and keep its cookie.

    Costs no query by itself: the contact is loaded (one query) only when
    something records an event or asks for the cart. Place it after
    ``AuthenticationMiddleware`` so that logged-in users are linked to their
    contact.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        visitor = request.journeys = Visitor(request)
        response = self.get_response(request)
        visitor.update_cookie(response)
        return response
