from django.db import migrations, models
from django.db.models import F


def handed_when_claimed(apps, schema_editor):
    """Messages already ``sending`` may have reached the provider: keep them reported as stuck."""
    Message = apps.get_model("wagtail_journeys", "Message")
    Message.objects.filter(status="sending").update(handed_at=F("sending_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("wagtail_journeys", "0007_channels"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="handed_at",
            field=models.DateTimeField(
                blank=True, null=True, verbose_name="handed to the provider"
            ),
        ),
        migrations.RunPython(handed_when_claimed, migrations.RunPython.noop),
    ]
