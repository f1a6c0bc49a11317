"""`python -m oee_site.serve`: pages, API and websockets from several processes on one port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from oee_site.redis_server import free_port
from tests.processes import ROOT, kill

pytestmark = pytest.mark.slow


def children_of(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in found.read_text().split()] if found.exists() else []


def test_several_processes_serve_pages_and_websockets(tmp_path, redis_url):
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'web.sqlite3'}", "REDIS_URL": redis_url,
           "DJANGO_SETTINGS_MODULE": "oee_site.settings"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "oee_site.serve", "--processes", "2", "--port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=5) as page:
                    assert page.status == 200
                    break
            except OSError:
                assert server.poll() is None, "the server exited"
                assert time.monotonic() < deadline, "no answer within 60 s"
                time.sleep(0.3)
        assert len(children_of(server.pid)) >= 2  # the worker processes (besides uvicorn's supervisor)
        with connect(f"ws://127.0.0.1:{port}/ws/plant/", additional_headers={"Origin": "http://127.0.0.1"},
                     open_timeout=10) as socket:
            with pytest.raises(ConnectionClosed) as closed:
                socket.recv(timeout=10)
        assert closed.value.rcvd.code == 4401  # the live stream answers: not logged in
    finally:
        kill(server)


def test_the_process_count_must_be_positive():
    done = subprocess.run([sys.executable, "-m", "oee_site.serve", "--processes", "0"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env={**os.environ, "DEBUG": "1"})
    assert done.returncode == 2 and "--processes must be at least 1" in done.stderr
