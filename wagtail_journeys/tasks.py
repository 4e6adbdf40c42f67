"""django-q2 entry points.

Tasks take primary keys (django-q2 pickles arguments) and hold no business
logic: each calls into the module that does the work.
"""

from wagtail_journeys.email import delivery


def deliver_messages(message_ids: list[int]) -> dict[str, int]:
    """Deliver one batch of queued messages over one connection (see ``email.delivery``)."""
    return delivery.deliver_messages(message_ids).as_dict()


def deliver_channel_messages(message_ids: list[int]) -> dict[str, int]:
    """Deliver queued SMS and push messages (see ``channels.delivery``)."""
    from wagtail_journeys.channels import delivery as channel_delivery

    return channel_delivery.deliver_channel_messages(message_ids).as_dict()


def send_queued() -> dict[str, int]:
    """Deliver every queued message that is due, on every channel: the repeating schedule's task."""
    from wagtail_journeys.channels import delivery as channel_delivery

    report = delivery.deliver_due()
    report.add(channel_delivery.deliver_channel_due())
    return report.as_dict()


def refresh_contact_segments(contact_id: int, event_name: str | None = None) -> dict[str, int]:
    """One contact's membership of the segments an event can change (``segments.membership``)."""
    from wagtail_journeys.segments import membership

    report = membership.refresh_contact(contact_id, event_name)
    return {"entered": report.entered, "exited": report.exited}


def refresh_segments() -> dict[str, int]:
    """Every segment's membership, in batches: the repeating schedule's task."""
    from wagtail_journeys.segments import membership

    reports = membership.refresh_all()
    return {name: report.members for name, report in reports.items()}


def dispatch_events(event_ids: list[int]) -> dict[str, int]:
    """What committed events do to journeys (``journeys.dispatch``)."""
    from wagtail_journeys.journeys.dispatch import dispatch_events as dispatch

    return dispatch(event_ids)


def redispatch_events(event_ids: list[int]) -> dict[str, int]:
    """Dispatch again the events among these still in the outbox (``journeys.dispatch``)."""
    from wagtail_journeys.journeys.dispatch import dispatch_events as dispatch

    return dispatch(event_ids, pending_only=True)


def run_enrollments(enrollment_ids: list[int], claim: str) -> dict[str, int]:
    """Run one claimed batch of due enrollments (``journeys.scheduler``)."""
    from wagtail_journeys.journeys.scheduler import run_claimed

    return run_claimed(enrollment_ids, claim).stats


def tick() -> dict[str, int]:
    """Detect carts, inactivity and anniversaries; claim what is due: the repeating schedule."""
    from wagtail_journeys.journeys.scheduler import tick as run_tick

    return run_tick().as_dict()


def drain_beacons() -> dict[str, int]:
    """Store the beacons waiting in the tracking buffer (``tracking.buffer``)."""
    from wagtail_journeys.tracking import buffer

    return buffer.drain().as_dict()
