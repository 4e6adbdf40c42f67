"""django-q2 entry points.

Tasks take primary keys (django-q2 pickles arguments) and hold no business
logic: each calls into the module that does the work.
"""

from wagtail_journeys.email import delivery


def deliver_messages(message_ids: list[int]) -> dict[str, int]:
    """Deliver one batch of queued messages over one connection (see ``email.delivery``)."""
    return delivery.deliver_messages(message_ids).as_dict()


def send_queued() -> dict[str, int]:
    """Deliver every queued message that is due: the repeating schedule's task."""
    return delivery.deliver_due().as_dict()
