"""The Celery app: workers run collectors (queue `collect`) and batch jobs; beat schedules them."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oee_site.settings")

app = Celery("oee_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
