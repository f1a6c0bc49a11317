"""Shared set-up of the database benchmarks: production settings and a throw-away database."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


@contextmanager
def bench_database() -> Iterator[None]:
    """Django set up with DEBUG off on a fresh database (a temporary SQLite file, or $DATABASE_URL's server)."""
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp(prefix='oee-bench-')}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oee_site.settings")
    # Production settings: with DEBUG on, Django records every query and both sides slow down.
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    os.environ.setdefault("FIELD_ENCRYPTION_KEY", "YmVuY2gtb25seS1maWVsZC1rZXktbm90LXNlY3JldCE=")
    import django

    django.setup()
    from django.db import connection

    creation = connection.creation
    creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        yield
    finally:
        creation.destroy_test_db(creation.connection.settings_dict["NAME"], verbosity=0)


def bench_line(time_zone: str = "UTC"):
    """A site, area and line to hang the benchmark's machines on."""
    from planning.models import Area, Line, Site

    site = Site.objects.create(code="bench", name="Bench", time_zone=time_zone)
    area = Area.objects.create(site=site, code="bench", name="Bench")
    return Line.objects.create(area=area, code="BENCH", name="Bench")
