"""Steps that reach outside: signed webhooks (retried with back-off) and staff notifications.

The webhook tests post to a real HTTP server on the loopback interface, so
the request on the wire (body, headers, signature) is what a receiver gets.
"""

import hashlib
import hmac
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from tests.journey_helpers import subscribed, tick_at, trail
from tests.loopback import Request, loopback_fixture
from wagtail_journeys.journeys.building import block, new_journey
from wagtail_journeys.journeys.entry import enroll
from wagtail_journeys.journeys.steps import TagStepBlock
from wagtail_journeys.models import Enrollment, StepRun

pytestmark = pytest.mark.django_db

SECRET = "s3cret-for-tests"
Status = Enrollment.Status


receiver = loopback_fixture()


def signed_correctly(request: Request, secret: str = SECRET) -> bool:
    """The documented recipe: sha256= hex HMAC-SHA256 of "<timestamp>.<body>"."""
    timestamp = request.headers["X-Journeys-Timestamp"]
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256)
    return hmac.compare_digest(f"sha256={mac.hexdigest()}", request.headers["X-Journeys-Signature"])


def hook_journey(receiver, *, retries=3):
    """[webhook, tag "synced"]: the tag shows whether the journey went on after the webhook."""
    return new_journey(
        "CRM sync",
        trigger=block("event", event="lead_created"),
        steps=[
            block(
                "webhook",
                url=f"{receiver.url}/hooks/journeys",
                secret=SECRET,
                timeout=1,
                retries=retries,
            ),
            block("tag", tag="synced"),
        ],
    )


def webhook_runs(enrollment):
    return list(StepRun.objects.filter(enrollment=enrollment, step_type="webhook").order_by("pk"))


# -- Webhooks ----------------------------------------------------------------------------------


def test_the_webhook_posts_signed_json_about_the_contact(receiver):
    journey = hook_journey(receiver)
    contact = subscribed(first_name="Grace", last_name="Hopper", email="grace@example.com")
    before = int(timezone.now().timestamp())

    enrollment = enroll(contact, journey, context={"order_ref": "A-17"})

    (request,) = receiver.requests
    assert request.path == "/hooks/journeys"
    assert request.headers["Content-Type"] == "application/json"
    assert signed_correctly(request)
    assert not signed_correctly(request, secret="another secret")
    assert before - 1 <= int(request.headers["X-Journeys-Timestamp"]) <= time.time() + 1
    assert request.headers["X-Journeys-Delivery"]
    data = request.json()
    assert data["contact"]["email"] == "grace@example.com"
    assert (data["contact"]["first_name"], data["contact"]["last_name"]) == ("Grace", "Hopper")
    assert data["context"] == {"order_ref": "A-17"}
    assert data["journey"]["id"] == journey.pk
    assert data["journey"]["step_id"] == journey.steps[0].id
    enrollment.refresh_from_db()
    assert enrollment.status == Status.COMPLETED
    assert contact.tags.filter(name="synced").exists()
    (run,) = webhook_runs(enrollment)
    assert run.result == StepRun.Result.DONE
    assert (run.detail["status"], run.detail["response"]) == (200, "ok")


def test_a_server_error_is_retried_later(receiver, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    receiver.answer(500, "database on fire")
    receiver.answer(200, "stored")
    journey = hook_journey(receiver)
    contact = subscribed()

    enrollment = enroll(contact, journey)

    enrollment.refresh_from_db()
    assert enrollment.status == Status.WAITING
    assert enrollment.current_step == journey.steps[0].id
    assert enrollment.next_run_at > timezone.now()
    (failure,) = webhook_runs(enrollment)
    assert failure.result == StepRun.Result.RETRYING
    assert (failure.detail["status"], failure.detail["response"]) == (500, "database on fire")
    assert not contact.tags.exists()

    # Not before its time...
    tick_at(capture, enrollment.next_run_at - timedelta(seconds=1))
    assert len(receiver.requests) == 1
    # ...but once it has come.
    tick_at(capture, enrollment.next_run_at + timedelta(seconds=1))

    first, second = receiver.requests
    # Signed afresh, at the time of the retry.
    stamps = [int(request.headers["X-Journeys-Timestamp"]) for request in (first, second)]
    assert stamps[1] >= stamps[0] + 29
    assert signed_correctly(second)
    assert second.headers["X-Journeys-Delivery"] == first.headers["X-Journeys-Delivery"]
    assert second.json()["contact"]["id"] == contact.pk
    enrollment.refresh_from_db()
    assert enrollment.status == Status.COMPLETED
    assert [result for _type, result, _branch in trail(enrollment)] == [
        "entered",
        "retrying",
        "done",
        "done",
        "completed",
    ]
    retry = webhook_runs(enrollment)[1]
    assert (retry.detail["status"], retry.detail["response"]) == (200, "stored")
    assert retry.detail["attempt"] == 2
    assert contact.tags.filter(name="synced").exists()


def test_a_refusal_is_not_retried_and_the_journey_goes_on(
    receiver, django_capture_on_commit_callbacks
):
    receiver.answer(400, '{"error": "unknown list"}')
    journey = hook_journey(receiver)
    contact = subscribed()

    enrollment = enroll(contact, journey)
    tick_at(django_capture_on_commit_callbacks, timezone.now() + timedelta(days=1))

    assert len(receiver.requests) == 1
    enrollment.refresh_from_db()
    assert enrollment.status == Status.COMPLETED
    assert enrollment.next_run_at is None
    (run,) = webhook_runs(enrollment)
    assert run.result == StepRun.Result.FAILED
    assert (run.detail["status"], run.detail["response"]) == (400, '{"error": "unknown list"}')
    assert contact.tags.filter(name="synced").exists()


def test_a_timeout_is_retried(receiver, django_capture_on_commit_callbacks):
    # The step's timeout is 1 s; the server takes 3 the first time.
    receiver.answer(200, "too late", delay=3)
    receiver.answer(200, "ok")
    journey = hook_journey(receiver)
    contact = subscribed()

    started = time.monotonic()
    enrollment = enroll(contact, journey)
    assert time.monotonic() - started < 2.5

    enrollment.refresh_from_db()
    assert enrollment.status == Status.WAITING
    (timed_out,) = webhook_runs(enrollment)
    assert timed_out.result == StepRun.Result.RETRYING
    assert "Timeout" in timed_out.detail["error"]
    assert "status" not in timed_out.detail

    tick_at(django_capture_on_commit_callbacks, enrollment.next_run_at + timedelta(seconds=1))

    assert len(receiver.requests) == 2
    enrollment.refresh_from_db()
    assert enrollment.status == Status.COMPLETED
    assert [run.result for run in webhook_runs(enrollment)] == ["retrying", "done"]


def test_retries_end_and_the_journey_goes_on(receiver, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    receiver.answer_always(503, "busy")
    journey = hook_journey(receiver, retries=1)
    contact = subscribed()

    enrollment = enroll(contact, journey)
    enrollment.refresh_from_db()
    first_retry_at = enrollment.next_run_at
    tick_at(capture, first_retry_at + timedelta(seconds=1))
    tick_at(capture, first_retry_at + timedelta(days=1))

    assert len(receiver.requests) == 2
    enrollment.refresh_from_db()
    assert enrollment.status == Status.COMPLETED
    assert [run.result for run in webhook_runs(enrollment)] == ["retrying", "failed"]
    assert contact.tags.filter(name="synced").exists()


# -- Notify staff ------------------------------------------------------------------------------


def staff_journey(*more):
    return new_journey(
        "Hot lead",
        trigger=block("event", event="lead_created"),
        steps=[
            block(
                "notify_staff",
                to="sales@example.com",
                subject="Hot lead: {{ contact.first_name }}",
                body="{{ contact.email }} asked about {{ context.product }}.",
            ),
            *more,
        ],
    )


def test_notify_staff_emails_after_commit(django_capture_on_commit_callbacks):
    journey = staff_journey()
    contact = subscribed(first_name="Linus", email="linus@example.com")

    with django_capture_on_commit_callbacks() as callbacks:
        enrollment = enroll(contact, journey, context={"product": "Widget <Pro>"})
    assert mail.outbox == []
    for callback in callbacks:
        callback()

    (email,) = mail.outbox
    assert email.to == ["sales@example.com"]
    assert email.subject == "Hot lead: Linus"
    assert email.body == "linus@example.com asked about Widget <Pro>."
    run = StepRun.objects.get(enrollment=enrollment, step_type="notify_staff")
    assert run.result == StepRun.Result.SENT


def test_notify_staff_in_a_failed_run_emails_nobody(
    django_capture_on_commit_callbacks, monkeypatch
):
    def broken(self, value, ctx):
        raise RuntimeError("tags are broken")

    monkeypatch.setattr(TagStepBlock, "run", broken)
    journey = staff_journey(block("tag", tag="hot"))
    contact = subscribed()

    with django_capture_on_commit_callbacks(execute=True):
        enrollment = enroll(contact, journey, context={"product": "Widget"})

    enrollment.refresh_from_db()
    assert enrollment.status == Status.FAILED
    assert mail.outbox == []
