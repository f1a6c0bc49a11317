"""Each machine's first observation, for machines that had observations before the pipeline kept it."""

from django.db import migrations
from django.db.models import Min


def fill_first_observations(apps, schema_editor):
    Machine = apps.get_model("planning", "Machine")
    Observation = apps.get_model("monitoring", "Observation")
    firsts = Observation.objects.values("machine").annotate(first=Min("ts")).values_list("machine", "first")
    for machine_id, first in firsts:
        Machine.objects.filter(pk=machine_id).update(first_observation=first)


class Migration(migrations.Migration):

    dependencies = [
        ("monitoring", "0001_initial"),
        ("planning", "0002_machine_in_service"),
    ]

    operations = [
        migrations.RunPython(fill_first_observations, migrations.RunPython.noop),
    ]
