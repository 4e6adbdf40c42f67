"""Running enrollments: each step in turn until the contact waits, exits or completes.

A ``Runner`` serves one batch (a tick's claim, one event's enrollments, a
simulation): it shares the plans, template revisions and recorded step runs
of the batch. Each enrollment runs in its own savepoint, so a step that
raises fails that enrollment, with the error stored, and never the others.
"""

from __future__ import annotations

import logging
import traceback
from datetime import datetime
from functools import partial

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from wagtail_journeys.analytics.counting import save_step_runs
from wagtail_journeys.email import merge
from wagtail_journeys.journeys import timing
from wagtail_journeys.journeys.outcomes import BRANCH, EXIT, NEXT, WAIT, Outcome
from wagtail_journeys.journeys.plan import revision_plan
from wagtail_journeys.models import Enrollment, Message, StepRun

logger = logging.getLogger(__name__)

Result = StepRun.Result
#: Marks a template deleted since the cached plan was read.
DELETED = -1
#: More steps than this in one go is a bug (plans have no loops), not a journey.
MAX_STEPS_PER_RUN = 1000


class StepContext:
    """What a step sees: the contact, its enrollment, the clock, and actions that write."""

    def __init__(self, runner: Runner, enrollment: Enrollment, node, *, event=None, resumed=False):
        self.runner = runner
        self.enrollment = enrollment
        self.contact = enrollment.contact
        self.node = node
        self.step_id = node.id
        self.now = runner.now
        self.simulate = runner.simulate
        #: The event that resumed a "wait until" step, if one did.
        self.event = event
        #: True when the step runs again after the wait it asked for.
        self.resumed = resumed

    def ab_winner(self) -> str | None:
        """The promoted winner of this step's A/B test (None: still testing)."""
        return self.runner.ab_winner(self.enrollment.journey_id, self.step_id)

    @property
    def wait_started(self) -> datetime:
        started = self.enrollment.state.get("since")
        return datetime.fromisoformat(started) if started else self.now

    def event_since(self, block, value) -> bool:
        """Did an event this "wait until" step waits for arrive since the wait began?"""
        from wagtail_journeys.models import Event

        candidates = Event.objects.filter(
            contact_id=self.contact.pk,
            name=value["event"].strip(),
            occurred_at__gte=self.wait_started,
            occurred_at__lte=self.now,
        )
        return any(block.event_matches(value, event) for event in candidates[:50])

    def send_email(self, template, *, subject: str, variant: str, detail: dict) -> Outcome:
        from wagtail_journeys.email.sending import send_email

        revision_id = self.runner.template_revision(template)
        if revision_id == DELETED:
            return Outcome(NEXT, Result.FAILED, _("The email template was deleted."), detail)
        if self.simulate:
            # The simulator's transaction is rolled back, so the message is never
            # delivered; the subject is rendered for its timeline.
            detail["subject"] = self.runner.render_subject(
                template, self.contact, self.enrollment, subject
            )
        context = dict(self.enrollment.context)
        if subject:
            context["subject_variant"] = subject
        enrollment = self.enrollment
        message = send_email(
            self.contact,
            template,
            context,
            idempotency_key=f"journey:{enrollment.pk}:{self.step_id}",
            step_id=self.step_id,
            variant=variant,
            tags=[f"journey:{enrollment.journey_id}"],
            enrollment=enrollment,
            template_revision_id=revision_id,
            at=self.now,
        )
        return self.runner.message_outcome(message, detail)

    def send_channel(self, channel: str, template, *, detail: dict) -> Outcome:
        """Queue an SMS or a push notification (``channel``) from ``template``."""
        from wagtail_journeys.channels.sending import send_push, send_sms

        send = send_sms if channel == Message.Channel.SMS else send_push
        enrollment = self.enrollment
        message = send(
            self.contact,
            template,
            dict(enrollment.context),
            idempotency_key=f"journey:{enrollment.pk}:{self.step_id}",
            step_id=self.step_id,
            enrollment=enrollment,
            at=self.now,
        )
        if self.simulate:
            detail["text"] = message.body
        return self.runner.message_outcome(message, detail)

    def notify_staff(self, to: str, subject: str, body: str) -> Outcome:
        values = {"contact": merge.contact_values(self.contact), "context": self.enrollment.context}
        subject = " ".join(merge.render(subject, values, autoescape=False).split())
        text = merge.render(body, values, autoescape=False)
        from django.core.mail import send_mail

        # After commit: a rolled-back step (or a simulation) tells nobody anything.
        transaction.on_commit(partial(send_mail, subject, text, None, [to], fail_silently=False))
        return Outcome(NEXT, Result.SENT, _("Emailed %(to)s: %(s)s") % {"to": to, "s": subject})


class Runner:
    """Runs enrollments at ``now``.

    ``simulate`` is for the simulator, which runs inside a transaction it
    rolls back: steps write as usual (so conditions see their tags and
    fields), but nothing leaves the database (no webhook is called), and the
    step runs are kept in ``runs`` instead of being written.
    """

    def __init__(self, *, now: datetime | None = None, simulate: bool = False, record=None):
        self.now = now or timezone.now()
        self.simulate = simulate
        self._template_revisions: dict[int, int | None] = {}
        #: Called with each StepRun as it is made (the simulator's timeline).
        self.record = record
        self.runs: list[StepRun] = []
        #: Plans by revision id: a batch reads each pinned revision once.
        self._plans: dict[int, tuple] = {}
        #: Messages queued by this batch's steps, for ``check_queued``.
        self._queued: list[Message] = []
        #: Promoted A/B winners by journey id, read once per batch.
        self._winners: dict[int, dict[str, str]] = {}
        self.stats = {"steps": 0, "failed": 0}

    # -- shared per batch --------------------------------------------------------------------

    def ab_winner(self, journey_id: int, step_id: str) -> str | None:
        """The promoted winner of the A/B test at ``step_id``, if one was promoted."""
        if journey_id not in self._winners:
            from wagtail_journeys.models import ABDecision

            self._winners[journey_id] = dict(
                ABDecision.objects.filter(journey_id=journey_id).values_list("step_id", "winner")
            )
        return self._winners[journey_id].get(step_id)

    def template_revision(self, template) -> int | None:
        """The template's latest revision id, read once per batch (the plan's copy is cached).

        ``DELETED`` when the template was deleted since the plan was read.
        """
        if template.pk not in self._template_revisions:
            from wagtail_journeys.models import EmailTemplate

            found = EmailTemplate.objects.filter(pk=template.pk).values_list(
                "latest_revision_id", flat=True
            )
            self._template_revisions[template.pk] = found[0] if found else DELETED
        return self._template_revisions[template.pk]

    def render_subject(self, template, contact, enrollment, subject: str) -> str:
        from wagtail_journeys.email.rendering import render_email

        context = dict(enrollment.context)
        if subject:
            context["subject_variant"] = subject
        return render_email(template, contact, context=context).subject

    def message_outcome(self, message: Message, detail: dict) -> Outcome:
        """The step's outcome for a queued message ("Queued."; see ``check_queued``)."""
        detail["message_id"] = message.pk
        if message.status != Message.Status.QUEUED:
            return Outcome(NEXT, Result.SENT, _("Already queued."), detail, message_id=message.pk)
        if self.simulate:
            # One contact: check now, so that the timeline shows the reason.
            from wagtail_journeys.email.policies import check_messages

            verdict = check_messages([message], self.now)[message.pk]
            result, reason = self._apply_verdict(message, verdict)
            return Outcome(NEXT, result, reason, detail, message_id=message.pk)
        self._queued.append(message)
        return Outcome(NEXT, Result.SENT, _("Queued."), detail, message_id=message.pk)

    @staticmethod
    def _apply_verdict(message: Message, verdict) -> tuple[str, str]:
        """Mark ``message`` as its delivery-time check says; the step run's result and reason."""
        from wagtail_journeys.email.policies import DEFER, SEND

        if verdict.action == SEND:
            return Result.SENT, _("Queued.")
        if verdict.action == DEFER:
            Message.objects.filter(pk=message.pk).update(send_after=verdict.send_after)
            reason = _("Queued; %(why)s Goes at %(at)s.") % {
                "why": verdict.reason,
                "at": timing.readable(verdict.send_after),
            }
            return Result.SENT, reason
        Message.objects.filter(pk=message.pk, status=Message.Status.QUEUED).update(
            status=verdict.action, status_reason=verdict.reason
        )
        return Result.SKIPPED, verdict.reason

    def check_queued(self) -> None:
        """Apply the delivery-time checks to the messages queued so far, and record why.

        The checks run again at delivery (the contact may unsubscribe in
        between); here they give the audit trail its reason at once, for a
        whole batch in two queries. A suppressed or capped message is marked
        so and its step run says so; one in quiet hours waits.
        """
        from wagtail_journeys.email.policies import check_messages

        queued, self._queued = self._queued, []
        if not queued:
            return
        verdicts = check_messages(queued, self.now)
        runs = {run.message_id: run for run in self.runs if run.message_id is not None}
        for message in queued:
            result, reason = self._apply_verdict(message, verdicts[message.pk])
            run = runs.get(message.pk)
            if run is not None:
                run.result, run.reason = result, str(reason)[:500]

    # -- recording ---------------------------------------------------------------------------

    def _record(
        self, enrollment, node, result, reason="", *, branch="", detail=None, message_id=None
    ):
        run = StepRun(
            enrollment=enrollment,
            journey_id=enrollment.journey_id,
            step_id=node.id if node is not None else "",
            step_type=node.type if node is not None else "",
            at=self.now,
            result=result,
            branch=branch or "",
            reason=str(reason)[:500],
            detail=detail or {},
            message_id=message_id,
        )
        self.runs.append(run)
        if self.record is not None:
            self.record(run, node)
        return run

    def flush(self) -> None:
        """Check the queued messages and write the step runs recorded so far.

        Called once per batch, inside its transaction: two queries for the
        checks and one INSERT per thousand step runs, whatever the batch size.
        """
        self.check_queued()
        if self.simulate:
            return
        save_step_runs(self.runs)
        self.runs = []

    # -- ending ------------------------------------------------------------------------------

    def end(self, enrollment: Enrollment, status: str, reason: str = "") -> None:
        enrollment.status = status
        enrollment.exit_reason = str(reason)[:255]
        enrollment.ended_at = self.now
        enrollment.next_run_at = None
        enrollment.live_key = None
        enrollment.state = {}

    def exit_for_goal(self, enrollment: Enrollment, reason: str) -> None:
        """End an enrollment because the contact reached a goal (from the dispatcher)."""
        self._record(enrollment, None, Result.GOAL, reason)
        self.end(enrollment, Enrollment.Status.EXITED, reason)

    # -- goals -------------------------------------------------------------------------------

    def goal_reached(self, journey, enrollment: Enrollment) -> str:
        """The first goal the contact has reached, described; empty if none."""
        for child in journey.goals:
            if child.block_type == "event":
                if child.block.reached(
                    child.value, enrollment.contact_id, enrollment.entered_at, self.now
                ):
                    return _("Goal reached: %(what)s.") % {
                        "what": child.block.describe(child.value)
                    }
            elif child.block.met(child.value, enrollment.contact, self.now):
                return _("Goal reached: %(what)s.") % {"what": child.block.describe(child.value)}
        return ""

    # -- running -----------------------------------------------------------------------------

    def run(self, enrollment: Enrollment, *, event=None) -> None:
        """Advance one enrollment in its own savepoint; a crash fails only this one.

        The enrollment and the messages its steps queue are written in that
        savepoint; its step runs wait in ``runs`` for ``flush``, which the
        caller runs before its transaction commits.
        """
        runs, queued = len(self.runs), len(self._queued)
        try:
            with transaction.atomic():
                self.advance(enrollment, event=event)
                enrollment.claimed_until = None
                enrollment.save()
        except Exception as error:
            if self.simulate:
                raise
            del self.runs[runs:]
            del self._queued[queued:]
            self.stats["failed"] += 1
            logger.exception("Enrollment %s failed", enrollment.pk)
            self.fail(enrollment, error)

    def fail(self, enrollment: Enrollment, error: BaseException) -> None:
        """Mark the enrollment failed with the error; nothing its steps did is kept."""
        summary = "".join(traceback.format_exception_only(error)).strip()
        step = enrollment.current_step
        enrollment.refresh_from_db()
        with transaction.atomic():
            self.end(enrollment, Enrollment.Status.FAILED, _("A step failed."))
            enrollment.error = "".join(traceback.format_exception(error))[-10000:]
            enrollment.claimed_until = None
            enrollment.save()
            save_step_runs(
                [
                    StepRun(
                        enrollment=enrollment,
                        journey_id=enrollment.journey_id,
                        step_id=step,
                        at=self.now,
                        result=Result.FAILED,
                        reason=summary[:500],
                        detail={"error": summary[:2000]},
                    )
                ]
            )

    def advance(self, enrollment: Enrollment, *, event=None) -> None:
        """Run steps from where the enrollment is until it waits or ends."""
        if not enrollment.in_journey:
            return
        if enrollment.revision_id is None:
            raise LookupError("The journey revision this enrollment follows was deleted.")
        if enrollment.revision_id not in self._plans:
            self._plans[enrollment.revision_id] = revision_plan(enrollment.revision)
        journey, plan = self._plans[enrollment.revision_id]
        waiting = enrollment.status == Enrollment.Status.WAITING
        enrollment.status = Enrollment.Status.ACTIVE
        enrollment.next_run_at = None
        for _count in range(MAX_STEPS_PER_RUN):
            reason = self.goal_reached(journey, enrollment)
            if reason:
                self.exit_for_goal(enrollment, reason)
                return
            step_id = enrollment.current_step or plan.first
            if step_id is None:
                self._record(
                    enrollment, None, Result.COMPLETED, _("Reached the end of the journey.")
                )
                self.end(enrollment, Enrollment.Status.COMPLETED, _("Completed"))
                return
            node = plan.nodes.get(step_id)
            if node is None:
                raise LookupError(f"Step {step_id} is not in revision {enrollment.revision_id}.")
            enrollment.current_step = step_id
            resumed = waiting and enrollment.state.get("step") == step_id
            ctx = StepContext(self, enrollment, node, event=event, resumed=resumed)
            outcome = node.block.run(node.value, ctx)
            self.stats["steps"] += 1
            event, waiting = None, False
            if outcome.action == WAIT:
                if enrollment.state.get("step") != step_id:
                    enrollment.state = {"step": step_id, "since": self.now.isoformat()}
                    self._record(
                        enrollment, node, outcome.result, outcome.reason, detail=outcome.detail
                    )
                elif outcome.result != Result.WAITING:
                    self._record(
                        enrollment, node, outcome.result, outcome.reason, detail=outcome.detail
                    )
                enrollment.state.update(outcome.detail.get("state", {}))
                enrollment.status = Enrollment.Status.WAITING
                enrollment.next_run_at = outcome.until
                return
            if resumed and node.type == "wait":
                self._record(enrollment, node, Result.RESUMED, outcome.reason)
            else:
                self._record(
                    enrollment,
                    node,
                    outcome.result,
                    outcome.reason,
                    branch=outcome.branch or "",
                    detail=outcome.detail,
                    message_id=outcome.message_id,
                )
            enrollment.state = {}
            if outcome.action == EXIT:
                self.end(enrollment, Enrollment.Status.EXITED, outcome.reason)
                return
            following = node.branches.get(outcome.branch) if outcome.action == BRANCH else node.next
            if following is None:
                self._record(
                    enrollment, None, Result.COMPLETED, _("Reached the end of the journey.")
                )
                self.end(enrollment, Enrollment.Status.COMPLETED, _("Completed"))
                return
            enrollment.current_step = following
        raise RuntimeError("Too many steps in one run: the plan has a loop.")
