"""Shared fixtures: a real Redis (the machine's when REDIS_URL is set, else a private one)."""

from __future__ import annotations

import os
import subprocess

import pytest

_private_redis: subprocess.Popen | None = None

if not os.environ.get("REDIS_URL"):
    from django.conf import settings

    from oee_site import redis_server

    _private_redis, os.environ["REDIS_URL"] = redis_server.start()
    # pytest-django has read the settings already: point every Redis user at the private server.
    settings.REDIS_URL = settings.CELERY_BROKER_URL = os.environ["REDIS_URL"]
    settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [os.environ["REDIS_URL"]]


def pytest_unconfigure(config: pytest.Config) -> None:
    if _private_redis is not None:
        _private_redis.terminate()
        _private_redis.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of a real Redis for this test run (database 0 of a private server, or $REDIS_URL)."""
    return os.environ["REDIS_URL"]
