"""Shared by the journey tests: templates, contacts, running events and ticks."""

from datetime import timedelta

from django.utils import timezone

from wagtail_journeys import track
from wagtail_journeys.journeys.scheduler import tick
from wagtail_journeys.models import Contact, EmailTemplate, Enrollment, Message, StepRun


def email_template(name="Hello", subject="Hello {{ contact.first_name }}", kind="marketing"):
    template = EmailTemplate(
        name=name,
        subject=subject,
        kind=kind,
        body=[{"type": "text", "value": "<p>Hi there</p>"}],
    )
    template.save()
    template.save_revision(log_action=False)
    return template


def subscribed(**fields):
    from tests.factories import ContactFactory

    return ContactFactory(status=Contact.Status.SUBSCRIBED, consent={"email": True}, **fields)


def fire(capture, contact, name, **properties):
    """Record an event and run everything it sets off (dispatch, delivery)."""
    with capture(execute=True):
        return track(contact, name, **properties)


def tick_at(capture, now):
    """A tick at ``now``, every detector included (their hourly throttle is for real clocks)."""
    from wagtail_journeys.journeys import detectors

    detectors._last_run.clear()
    with capture(execute=True):
        return tick(now=now, inline=True)


def later(**delta):
    return timezone.now() + timedelta(**delta)


def trail(enrollment):
    """(step type, result, branch) of each step run, in order."""
    return [
        (run.step_type, run.result, run.branch)
        for run in StepRun.objects.filter(enrollment=enrollment).order_by("at", "pk")
    ]


def enrollment_of(contact, journey):
    return Enrollment.objects.get(contact=contact, journey=journey)


def subjects(contact):
    return list(
        Message.objects.filter(contact=contact).order_by("pk").values_list("subject", flat=True)
    )
