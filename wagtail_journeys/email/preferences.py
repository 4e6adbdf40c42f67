"""The preference centre's form: topics, "fewer emails" and consent per channel."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from wagtail_journeys.email import consent
from wagtail_journeys.models.contacts import Contact, EmailFrequency
from wagtail_journeys.models.messages import ConsentRecord, Topic

METHOD = ConsentRecord.Method.PREFERENCE_CENTRE
_CHANNEL_PREFIX = "channel_"


def wants_email(contact: Contact) -> bool:
    """Whether the contact currently gets marketing email (as far as consent goes)."""
    return contact.status == Contact.Status.SUBSCRIBED and contact.consent.get("email") is not False


class PreferencesForm(forms.Form):
    """What one contact wants; built from and applied to that contact."""

    email = forms.BooleanField(label=_("Send me marketing email"), required=False)
    topics = forms.ModelMultipleChoiceField(
        label=_("Topics"),
        queryset=Topic.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    fewer = forms.BooleanField(
        label=_("Fewer emails"),
        required=False,
        help_text=_("Get only our most important emails."),
    )

    def __init__(self, contact: Contact, *args: Any, **kwargs: Any):
        self.contact = contact
        self.left = set(contact.topics_left.values_list("pk", flat=True))
        self.all_topics = list(Topic.objects.all())
        # Other channels appear only once the contact has a consent entry for
        # them: a site without SMS or push has nothing to offer there.
        self.channels = sorted(name for name in contact.consent if name != "email")
        initial = {
            "email": wants_email(contact),
            "topics": [topic.pk for topic in self.all_topics if topic.pk not in self.left],
            "fewer": contact.email_frequency == EmailFrequency.FEWER,
            **{_CHANNEL_PREFIX + name: bool(contact.consent[name]) for name in self.channels},
        }
        super().__init__(*args, initial=initial, **kwargs)
        if self.all_topics:
            self.fields["topics"].queryset = Topic.objects.all()
        else:
            del self.fields["topics"]
        for name in self.channels:
            self.fields[_CHANNEL_PREFIX + name] = forms.BooleanField(
                label=_("Send me %(channel)s messages") % {"channel": name.upper()},
                required=False,
            )

    def apply(self, *, ip_address: str | None) -> bool:
        """Store what changed, each change with its consent record; whether anything did."""
        data = self.cleaned_data
        contact = self.contact
        changed = False
        if "topics" in self.fields:
            wanted = {topic.pk for topic in data["topics"]}
            for topic in self.all_topics:
                if topic.pk in wanted and topic.pk in self.left:
                    consent.join_topics(contact, [topic], method=METHOD, ip_address=ip_address)
                    changed = True
                elif topic.pk not in wanted and topic.pk not in self.left:
                    consent.leave_topic(contact, topic, method=METHOD, ip_address=ip_address)
                    changed = True
        frequency = EmailFrequency.FEWER if data["fewer"] else EmailFrequency.NORMAL
        if frequency != contact.email_frequency:
            consent.set_email_frequency(contact, frequency, method=METHOD, ip_address=ip_address)
            changed = True
        for name in self.channels:
            granted = data[_CHANNEL_PREFIX + name]
            if granted != bool(contact.consent[name]):
                consent.set_channel_consent(
                    contact, name, granted, method=METHOD, ip_address=ip_address
                )
                changed = True
        if data["email"] and not wants_email(contact):
            changed |= consent.subscribe(contact, method=METHOD, ip_address=ip_address)
        elif not data["email"] and wants_email(contact):
            changed |= consent.unsubscribe(contact, method=METHOD, ip_address=ip_address)
        return changed


def unsubscribe_from_all(contact: Contact, *, ip_address: str | None) -> bool:
    """The preference centre's "unsubscribe from all": email and every other channel."""
    changed = consent.unsubscribe(contact, method=METHOD, ip_address=ip_address)
    for name, granted in list(contact.consent.items()):
        if name != "email" and granted:
            consent.set_channel_consent(contact, name, False, method=METHOD, ip_address=ip_address)
            changed = True
    return changed
