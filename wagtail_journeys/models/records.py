"""The base of the models that record what happened (events, messages, steps...)."""

from django.db import models


class Record(models.Model):
    """A row about a contact, not content an editor links to.

    Wagtail's reference index looks at every saved model with a foreign key;
    these are written on every page view, message and step, and nobody asks
    "where is this event used", so they stay out of it (one index write less
    per save).
    """

    wagtail_reference_index_ignore = True

    class Meta:
        abstract = True
