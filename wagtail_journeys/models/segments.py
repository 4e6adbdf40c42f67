"""Segments: static lists and rule-based groups of contacts, with materialised membership."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from wagtail.fields import StreamField
from wagtail.models import PreviewableMixin

from wagtail_journeys.models.records import Record
from wagtail_journeys.segments.compiling import CompileContext, RuleCycleError
from wagtail_journeys.segments.conditions import ALL, MATCH_CHOICES, rules_block


class Segment(PreviewableMixin, models.Model):
    """A group of contacts: listed by hand (static) or matching rules (dynamic)."""

    class Kind(models.TextChoices):
        STATIC = "static", _("Static list")
        DYNAMIC = "dynamic", _("Dynamic (rules)")

    name = models.CharField(_("name"), max_length=255, unique=True)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.DYNAMIC)
    match = models.CharField(
        _("match"),
        max_length=8,
        choices=MATCH_CHOICES,
        default=ALL,
        help_text=_("For dynamic segments: whether a contact must match all rules or any."),
    )
    rules = StreamField(
        rules_block(),
        verbose_name=_("rules"),
        blank=True,
        help_text=_("For dynamic segments. Static segments keep the members added to them."),
    )
    #: The event names that can change membership ("*": any); kept up to date on save.
    depends_on = models.JSONField(default=list, blank=True, editable=False)
    member_count = models.PositiveIntegerField(_("members"), default=0, editable=False)
    refreshed_at = models.DateTimeField(_("refreshed at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        from wagtail_journeys.segments.conditions import condition_events

        self.depends_on = sorted(condition_events(self.rules)) if self.is_dynamic else []
        super().save(*args, **kwargs)

    @property
    def is_dynamic(self) -> bool:
        return self.kind == self.Kind.DYNAMIC

    def condition(self, ctx: CompileContext | None = None) -> Q:
        """The ``Q`` over contacts of this segment's members.

        Dynamic: its rules, compiled now (a segment used inside another is
        always current). Static: its listed members.
        """
        ctx = ctx or CompileContext()
        if not self.is_dynamic:
            members = SegmentMembership.objects.filter(segment_id=self.pk)
            return Q(pk__in=ctx.own(members).values("contact_id"))
        inner = ctx.entering(self.pk) if self.pk is not None else ctx
        return self.rules.stream_block.compile_all(self.rules, inner, self.match)

    def clean(self):
        super().clean()
        if self.is_dynamic and not len(self.rules):
            raise ValidationError({"rules": _("A dynamic segment needs at least one rule.")})
        # The admin form checks each rule; this also covers segments made in code.
        try:
            self.rules.stream_block.clean(self.rules)
        except ValidationError as error:
            raise ValidationError({"rules": error}) from None
        try:
            # Compiling follows every segment this one refers to: a cycle shows here.
            self.condition(CompileContext())
        except RuleCycleError:
            raise ValidationError(
                {
                    "rules": _(
                        'A "Segment membership" rule leads back to this segment: a segment '
                        "cannot contain itself, directly or through others."
                    )
                }
            ) from None
        except ValueError:
            pass  # a bad value: its rule's own check reports it, at the rule

    # Live preview: the editor sees the count and a sample while editing the rules.
    def get_preview_template(self, request, mode_name):
        return "wagtail_journeys/segments/preview.html"

    def get_preview_context(self, request, mode_name):
        from wagtail_journeys.segments.membership import preview

        context = super().get_preview_context(request, mode_name)
        context.update(preview(self))
        return context


class SegmentMembership(Record):
    """A contact in a segment: listed (static) or matching when last refreshed (dynamic)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    contact = models.ForeignKey(
        "wagtail_journeys.Contact", on_delete=models.CASCADE, related_name="segment_memberships"
    )
    added_at = models.DateTimeField(_("added"), auto_now_add=True)

    class Meta:
        verbose_name = _("segment membership")
        verbose_name_plural = _("segment memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "contact"], name="journeys_segment_member_unique"
            )
        ]
        indexes = [models.Index(fields=["contact"], name="journeys_member_contact_idx")]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.segment_id}"
