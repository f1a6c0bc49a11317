#!/usr/bin/env bash
# `make run`: prepare the database and the demo plant, then start every process in the Procfile
# under honcho, which stops them all on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

# honcho reads .env for the processes; read it here too so that every step sees the same settings.
if [ -f .env ]; then
    set -a
    # shellcheck disable=SC1091
    . ./.env
    set +a
fi
# The settings keep DEBUG off unless it is set; the demo wants it on (its log-ins, static files
# from the apps, plain HTTP). DEBUG=0 in the environment or in .env runs production settings.
export DEBUG="${DEBUG:-1}"
export PATH="$PWD/.venv/bin:$PATH"
export PYTHONUNBUFFERED=1
mkdir -p "${OEE_VAR_DIR:-var}"

port_taken() {
    python -c "import socket, sys; sys.exit(socket.socket().connect_ex(('127.0.0.1', $1)) != 0)"
}
if port_taken 8000; then
    echo "Port 8000 is taken (an earlier run still going?): stop what listens there first." >&2
    exit 1
fi

processes=(web worker beat)
if [ -z "${REDIS_URL:-}" ]; then
    export OEE_REDIS_PORT="${OEE_REDIS_PORT:-6390}"
    if port_taken "$OEE_REDIS_PORT"; then
        echo "Port $OEE_REDIS_PORT is taken (an earlier run still going?): stop it, or set OEE_REDIS_PORT or REDIS_URL." >&2
        exit 1
    fi
    export REDIS_URL="redis://127.0.0.1:$OEE_REDIS_PORT/0"
    processes=(redis "${processes[@]}")
fi

# One Django start-up answers what the next steps depend on, and fails early on a bad setting.
facts=$(python - <<'PY'
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oee_site.settings")
import django
django.setup()
from django.conf import settings
from django.core.management import get_commands
commands = get_commands()
print(int(settings.DEBUG), int("import_plant" in commands), int("simulate_plant" in commands))
PY
)
read -r debug has_import_plant has_simulate_plant <<<"$facts"

python manage.py migrate --no-input
# The demo plant goes into an empty database only: after that the admin is where the plant changes,
# and a restart keeps what was changed there. OEE_DEMO_REIMPORT=1 imports the file over it.
if [ "$has_import_plant" = 1 ] && [ -f demo/plant.yaml ]; then
    if [ "${OEE_DEMO_REIMPORT:-0}" = 1 ]; then
        python manage.py import_plant demo/plant.yaml
    else
        python manage.py import_plant --if-empty demo/plant.yaml
    fi
else
    echo "No import_plant command or demo/plant.yaml yet: starting without the demo plant."
fi
# demo_users resets the accounts admin, manager and operator: only on a demo (DEBUG on) database.
if [ "$debug" = 1 ]; then
    logins=$(python manage.py demo_users)
    python manage.py demo_alerts
else
    logins="DEBUG is off: no demo log-ins made (create users with: python manage.py createsuperuser)."
fi
# A new demo database gets the last OEE_DEMO_HISTORY_DAYS (14) days of the simulated lines, drawn
# through the pipeline, so that every page shows a working plant at once; then the simulator goes
# on from now. Once any observation is stored this does nothing (0 days: never).
history_days="${OEE_DEMO_HISTORY_DAYS:-14}"
if [ "$debug" = 1 ] && [ "$history_days" != 0 ]; then
    python manage.py demo_history --if-empty --days "$history_days"
fi
# With DEBUG on, WhiteNoise serves static files straight from the apps; otherwise from STATIC_ROOT.
if [ "$debug" = 0 ]; then
    python manage.py collectstatic --no-input -v 0
fi
if [ "$has_simulate_plant" = 1 ]; then
    processes+=(simulator)
else
    echo "No simulate_plant command yet: starting without the simulator."
fi

cat <<BANNER

  OEE Live: http://127.0.0.1:8000/
$(sed 's/^/  /' <<<"$logins")
  Starting: ${processes[*]} (Redis at $REDIS_URL). Ctrl-C stops them all.

BANNER
exec honcho start "${processes[@]}"
