"""Raw events past EVENT_RETENTION_DAYS are deleted; the report counters are not."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.factories import ContactFactory
from wagtail_journeys.analytics import reports
from wagtail_journeys.analytics.counting import Tally
from wagtail_journeys.checks import check_retention
from wagtail_journeys.journeys import detectors
from wagtail_journeys.models import Event
from wagtail_journeys.retention import purge_events
from wagtail_journeys.tracking.events import record_event

pytestmark = pytest.mark.django_db


def aged(contact, days):
    return record_event(contact, "page_viewed", occurred_at=timezone.now() - timedelta(days=days))


def test_old_events_go_recent_ones_and_counters_stay(settings):
    contact = ContactFactory()
    old = [aged(contact, 400) for _n in range(3)]
    kept = aged(contact, 10)
    tally = Tally()
    tally.add("sent", timezone.now() - timedelta(days=400), journey_id=1, count=5)
    tally.save()

    assert purge_events() == 0  # the default keeps everything
    settings.WAGTAIL_JOURNEYS = {"EVENT_RETENTION_DAYS": 365}
    assert purge_events(limit=2) == 2
    assert purge_events() == 1
    assert not Event.objects.filter(pk__in=[event.pk for event in old]).exists()
    assert Event.objects.filter(pk=kept.pk).exists()
    assert reports.totals(journey_id=1).sent == 5


def test_the_tick_purges_once_a_day_and_the_command_by_hand(settings):
    settings.WAGTAIL_JOURNEYS = {"EVENT_RETENTION_DAYS": 30}
    contact = ContactFactory()
    aged(contact, 40)
    now = timezone.now()
    detectors._last_run.clear()
    assert detectors.detect_all(now)["events_purged"] == 1
    aged(contact, 40)
    assert detectors.detect_all(now + timedelta(hours=1))["events_purged"] == 0
    out = io.StringIO()
    call_command("journeys_purge_events", stdout=out)
    assert "Deleted 1 event(s)" in out.getvalue()


@pytest.mark.parametrize("value", [0, -5, "30", 1.5, True])
def test_a_bad_retention_setting_is_reported(settings, value):
    settings.WAGTAIL_JOURNEYS = {"EVENT_RETENTION_DAYS": value}
    assert [error.id for error in check_retention(None)] == ["wagtail_journeys.E027"]
    settings.WAGTAIL_JOURNEYS = {"EVENT_RETENTION_DAYS": 30}
    assert check_retention(None) == []
