"""The Celery app: workers run collectors (queue `collect`) and batch jobs; beat schedules them."""

from __future__ import annotations

import os
import signal

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oee_site.settings")

app = Celery("oee_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _leave_stopping_to_the_worker(**kwargs: object) -> None:
    """A pool child ignores SIGTERM: the worker that owns it ends it, after its task, on a warm shutdown.

    honcho (and systemd's default KillMode) signal the worker's whole process group, so the
    children got the SIGTERM meant for the worker and died of it mid-task, which the worker then
    logged as an ERROR ("exited with 'signal 15 (SIGTERM)'"). The collector's task sets a handler
    of its own while it runs, to give its devices back. The cost: a cold shutdown's SIGTERM no longer
    ends a busy child either; its supervisor's SIGKILL does, after its timeout (honcho 5 s, systemd's
    TimeoutStopSec).
    """
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
