import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("wagtail_journeys", "0008_message_handed_at"),
    ]

    operations = [
        migrations.CreateModel(
            name="PendingDispatch",
            fields=[
                (
                    "event",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="wagtail_journeys.event",
                        verbose_name="event",
                    ),
                ),
                (
                    "queued_at",
                    models.DateTimeField(
                        default=django.utils.timezone.now, verbose_name="queued at"
                    ),
                ),
            ],
            options={
                "verbose_name": "pending dispatch",
                "verbose_name_plural": "pending dispatches",
                "indexes": [models.Index(fields=["queued_at"], name="journeys_pending_queued_idx")],
            },
        ),
    ]
