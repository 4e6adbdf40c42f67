"""Journeys, the contacts going through them (enrollments) and what each step did (step runs)."""

from __future__ import annotations

from django.contrib.contenttypes.fields import GenericRelation
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.fields import StreamField
from wagtail.models import DraftStateMixin, LockableMixin, PreviewableMixin, RevisionMixin

from wagtail_journeys.journeys.goals import GoalsBlock
from wagtail_journeys.journeys.steps import steps_block
from wagtail_journeys.journeys.triggers import TriggersBlock
from wagtail_journeys.models.records import Record
from wagtail_journeys.segments.conditions import ALL, MATCH_CHOICES, rules_block


class Journey(DraftStateMixin, LockableMixin, RevisionMixin, PreviewableMixin, models.Model):
    """A trigger, entry rules, steps and goals, built by an editor and run by the scheduler.

    Publishing makes the latest revision live: new contacts enter it and
    waiting contacts move to it by step id (``journeys.live_edits``).
    """

    class State(models.TextChoices):
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        ARCHIVED = "archived", _("Archived")

    class ReEntry(models.TextChoices):
        ONCE = "once", _("Once ever")
        ONCE_PER_DAYS = "once_per_days", _("At most once per N days")
        NOT_WHILE_ACTIVE = "not_while_active", _("Again once they have left it")
        EVERY_TIME = "every_time", _("Every time the trigger fires")

    name = models.CharField(_("name"), max_length=255)
    description = models.TextField(_("description"), blank=True)
    state = models.CharField(
        _("state"),
        max_length=16,
        choices=State.choices,
        default=State.RUNNING,
        editable=False,
        help_text=_("Paused: nobody enters and waiting contacts are held."),
    )
    trigger = StreamField(
        TriggersBlock(),
        verbose_name=_("trigger"),
        help_text=_("What makes a contact enter the journey."),
    )
    entry_match = models.CharField(
        _("entry rules match"), max_length=8, choices=MATCH_CHOICES, default=ALL
    )
    entry_rules = StreamField(
        rules_block(),
        verbose_name=_("entry rules"),
        blank=True,
        help_text=_("Only contacts matching these rules enter. Empty: everyone triggered."),
    )
    reentry = models.CharField(
        _("re-entry"), max_length=20, choices=ReEntry.choices, default=ReEntry.NOT_WHILE_ACTIVE
    )
    reentry_days = models.PositiveIntegerField(
        _("re-entry days"), null=True, blank=True, help_text=_('For "at most once per N days".')
    )
    goals = StreamField(
        GoalsBlock(),
        verbose_name=_("exit goals"),
        blank=True,
        help_text=_(
            "A contact who reaches a goal leaves the journey at once, even in the middle of a wait."
        ),
    )
    conversion_event = models.CharField(
        _("conversion event"),
        max_length=64,
        blank=True,
        default="order_completed",
        help_text=_("Counted as a conversion in the reports when it follows a message."),
    )
    conversion_days = models.PositiveIntegerField(_("conversion window (days)"), default=7)
    steps = StreamField(steps_block(), verbose_name=_("steps"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    _revisions = GenericRelation("wagtailcore.Revision", related_query_name="journey")

    class Meta:
        verbose_name = _("journey")
        verbose_name_plural = _("journeys")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def revisions(self):
        return self._revisions

    def with_content_json(self, content):
        # Running, paused or archived belongs to the journey, not to a version of it:
        # publishing a revision saved before a pause must not resume the journey.
        obj = super().with_content_json(content)
        obj.state = self.state
        return obj

    @property
    def accepts_contacts(self) -> bool:
        """Published and running: triggers and ``enroll()`` may add contacts."""
        return self.live and self.state == self.State.RUNNING

    def clean(self):
        super().clean()
        from wagtail_journeys.journeys.validation import journey_errors

        errors = {}
        if self.reentry == self.ReEntry.ONCE_PER_DAYS and not self.reentry_days:
            errors["reentry_days"] = _("Enter the number of days.")
        if self.conversion_event:
            from wagtail_journeys.segments import values

            try:
                values.identifier(self.conversion_event, _("An event name"))
            except ValueError as error:
                errors["conversion_event"] = str(error)
        errors.update(journey_errors(self))
        if errors:
            raise ValidationError(errors)

    def get_preview_template(self, request, mode_name):
        return "wagtail_journeys/journeys/preview.html"

    def get_preview_context(self, request, mode_name):
        from wagtail_journeys.journeys.plan import build_plan

        context = super().get_preview_context(request, mode_name)
        context["plan"] = build_plan(self)
        return context


class Enrollment(Record):
    """One contact's way through one journey, pinned to the revision they follow."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        WAITING = "waiting", _("Waiting")
        COMPLETED = "completed", _("Completed")
        EXITED = "exited", _("Exited")
        FAILED = "failed", _("Failed")

    #: Statuses of a contact still in the journey.
    IN_JOURNEY = (Status.ACTIVE, Status.WAITING)

    journey = models.ForeignKey(
        Journey, verbose_name=_("journey"), on_delete=models.CASCADE, related_name="enrollments"
    )
    contact = models.ForeignKey(
        "wagtail_journeys.Contact",
        verbose_name=_("contact"),
        on_delete=models.CASCADE,
        related_name="enrollments",
    )
    revision = models.ForeignKey(
        "wagtailcore.Revision",
        verbose_name=_("revision"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    #: The block id of the step the contact is at (empty: the first step).
    current_step = models.CharField(_("current step"), max_length=64, blank=True)
    #: When the scheduler runs this enrollment next; NULL for anyone not waiting.
    next_run_at = models.DateTimeField(_("next run"), null=True, blank=True)
    #: ``next_run_at`` kept aside while the journey is paused.
    held_run_at = models.DateTimeField(_("held run"), null=True, blank=True)
    #: A worker's claim: nobody else runs this enrollment before then.
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    #: Which claim (a tick's batch) may run it now; a stale batch finds another and skips it.
    claim = models.CharField(max_length=32, blank=True, editable=False)
    # These two are NULL, not empty, when unset: unique constraints ignore NULLs.
    #: De-duplicates entries: the trigger event, "once", an anniversary year...
    entry_key = models.CharField(  # noqa: DJ001
        _("entry key"), max_length=64, null=True, blank=True
    )
    #: "live" while in the journey (for re-entry policies that allow one at a time).
    live_key = models.CharField(  # noqa: DJ001
        max_length=8, null=True, blank=True, editable=False
    )
    #: The trigger's event properties (the cart, the page...), for the steps and emails.
    context = models.JSONField(_("context"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    #: What the current step keeps between runs (when a wait began, webhook attempts).
    state = models.JSONField(_("state"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    entered_at = models.DateTimeField(_("entered"), default=timezone.now)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    exit_reason = models.CharField(_("exit reason"), max_length=255, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "contact", "entry_key"], name="journeys_enrollment_entry_once"
            ),
            models.UniqueConstraint(
                fields=["journey", "contact", "live_key"], name="journeys_enrollment_one_live"
            ),
        ]
        indexes = [
            # Only waiting rows are in it: a tick reads the due range, whatever else waits.
            models.Index(
                fields=["next_run_at"],
                condition=Q(next_run_at__isnull=False),
                name="journeys_enrol_due_idx",
            ),
            models.Index(fields=["contact", "status"], name="journeys_enrol_contact_idx"),
            models.Index(
                fields=["journey", "status", "current_step"], name="journeys_enrol_journey_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact} in {self.journey} ({self.get_status_display()})"

    @property
    def in_journey(self) -> bool:
        return self.status in self.IN_JOURNEY


class StepRun(Record):
    """The audit trail: one row for each step an enrollment ran, skipped or waited at."""

    class Result(models.TextChoices):
        ENTERED = "entered", _("Entered")
        SENT = "sent", _("Queued to send")
        SKIPPED = "skipped", _("Skipped")
        WAITING = "waiting", _("Waiting")
        RESUMED = "resumed", _("Resumed")
        BRANCHED = "branched", _("Took a branch")
        DONE = "done", _("Done")
        RETRYING = "retrying", _("Will retry")
        MOVED = "moved", _("Moved by a live edit")
        EXITED = "exited", _("Exited")
        GOAL = "goal", _("Reached a goal")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")

    enrollment = models.ForeignKey(
        Enrollment, verbose_name=_("enrollment"), on_delete=models.CASCADE, related_name="runs"
    )
    journey = models.ForeignKey(
        Journey, verbose_name=_("journey"), on_delete=models.CASCADE, related_name="+"
    )
    step_id = models.CharField(_("step"), max_length=64, blank=True)
    step_type = models.CharField(_("step type"), max_length=32, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)
    result = models.CharField(_("result"), max_length=16, choices=Result.choices)
    branch = models.CharField(_("branch"), max_length=64, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    message = models.ForeignKey(
        "wagtail_journeys.Message",
        verbose_name=_("message"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("step run")
        verbose_name_plural = _("step runs")
        ordering = ["at", "pk"]
        indexes = [
            models.Index(fields=["enrollment", "at"], name="journeys_steprun_trail_idx"),
            models.Index(fields=["journey", "step_id", "result"], name="journeys_steprun_step_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.step_type or 'journey'}: {self.get_result_display()}"

    @property
    def step_label(self) -> str:
        """The step's type as the editor knows it ("Send email"); empty for the journey itself."""
        from wagtail_journeys.journeys.steps import step_label

        return step_label(self.step_type) if self.step_type else ""
