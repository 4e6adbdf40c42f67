"""Shared by the browser tests."""

import time

from wagtail_journeys.models import Event


def close_and_settle(context, timeout=3.0):
    """Close the browser, then let the beacon its page sends on unload land before teardown.

    The live server stores it in another thread: arriving while the test's
    database is flushed, it breaks the flush (a foreign key to a deleted contact).
    """
    before = Event.objects.count()
    context.close()
    deadline = time.monotonic() + timeout
    while Event.objects.count() == before and time.monotonic() < deadline:
        time.sleep(0.1)
