"""A machine's in-service time: before it, its time is not scheduled."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('planning', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='machine',
            name='first_observation',
            field=models.DateTimeField(blank=True, editable=False, help_text='The earliest observation stored (kept by the pipeline).', null=True),
        ),
        migrations.AddField(
            model_name='machine',
            name='in_service',
            field=models.DateTimeField(blank=True, help_text='When the machine went into service: time before it is not scheduled for it. Empty: from its first observation.', null=True),
        ),
    ]
