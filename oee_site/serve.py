"""Serve OEE Live's pages, API and websockets from several processes (production, behind a proxy).

    python -m oee_site.serve [--processes N] [--host 127.0.0.1] [--port 8000]

Runs uvicorn with N worker processes sharing one listening socket (default: one per CPU core,
`WEB_PROCESSES`): one Python process serves one core, so a single daphne tops out at one core of
page rendering. Every process is a full ASGI server (HTTP and websockets); the live stream works
across them because screens subscribe through the Redis channel layer. It trusts
`X-Forwarded-Proto`/`X-Forwarded-For` from `FORWARDED_ALLOW_IPS` (default the loopback proxy).
`make run` keeps a single daphne, which is enough for one machine's demo.
"""

from __future__ import annotations

import argparse
import os

from oee_site.env import env_int, env_str


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m oee_site.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=env_int("WEB_PROCESSES", os.cpu_count() or 1),
                        help="worker processes (WEB_PROCESSES; default: one per core)")
    parser.add_argument("--host", default=env_str("WEB_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=env_int("WEB_PORT", 8000))
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error(f"--processes must be at least 1, got {args.processes}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oee_site.settings")

    import uvicorn

    uvicorn.run(
        "oee_site.asgi:application",
        host=args.host,
        port=args.port,
        workers=args.processes,
        proxy_headers=True,
        forwarded_allow_ips=env_str("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        # Screens send their own pings; the server's keep a dead TCP link from lingering.
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        # Django's logging configuration stays in charge (LOGGING in settings).
        log_config=None,
        access_log=False,
        lifespan="off",
    )


if __name__ == "__main__":
    main()
