"""``make run``: everything up, in one terminal, until Ctrl-C.

1. PostgreSQL and Redis: the ones named by DATABASE_URL / REDIS_URL, else the embedded ones;
2. migrations (as the owner role), then the demo organization (idempotent);
3. the web server (gunicorn), a Celery worker and Celery beat, logging to .data/logs/;
4. the URL, the demo login and the demo API key, once the web server answers.

Ctrl-C (or SIGTERM) stops every process started here, embedded servers included; the data
stays under .data/ for the next run.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from zenskar import embedded

PYTHON = sys.executable
BIN = Path(PYTHON).parent
LOGS = embedded.DATA_DIR / "logs"


def _free_port(preferred: int) -> int:
    for port in range(preferred, preferred + 50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError(f"no free port in {preferred}..{preferred + 49}")


def _manage(*args: str, capture: bool = False) -> str:
    result = subprocess.run(  # noqa: S603 - our own manage.py
        [PYTHON, str(embedded.BASE_DIR / "manage.py"), *args],
        check=True, text=True, capture_output=capture, cwd=embedded.BASE_DIR,
    )
    return result.stdout if capture else ""


def _wait_for(url: str, processes: dict[str, subprocess.Popen], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {LOGS}/{name}.log")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s; see {LOGS}/web.log")


def _stop(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    # Our own signal handling: Ctrl-C reaches the children through the terminal too, and we
    # wait for them rather than leave them behind.
    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    print("Starting PostgreSQL and Redis ...", flush=True)
    given = {name: bool(os.environ.get(name)) for name in ("DATABASE_URL", "REDIS_URL")}
    started = embedded.up()
    for name, label in (("DATABASE_URL", "PostgreSQL"), ("REDIS_URL", "Redis")):
        origin = f"from {name}" if given[name] else f"embedded, data in {embedded.DATA_DIR}"
        print(f"  {label:<11} {origin}", flush=True)
    processes: dict[str, subprocess.Popen] = {}
    try:
        if os.environ.get("STRIPE_EMULATOR", "on") != "off" and not os.environ.get(
                "STRIPE_API_BASE"):
            # The demo organization's Stripe is a local emulator (localstripe): the hosted
            # checkout works with no Stripe account. Its state lives in memory.
            stripe_port = _free_port(8420)
            LOGS.mkdir(parents=True, exist_ok=True)
            processes["localstripe"] = subprocess.Popen(  # noqa: S603 - our own binary
                [str(BIN / "localstripe"), "--port", str(stripe_port), "--from-scratch"],
                stdout=open(LOGS / "localstripe.log", "a"),  # noqa: SIM115
                stderr=subprocess.STDOUT, cwd=embedded.BASE_DIR,
            )
            # the deployment setting every Stripe call in test mode follows (settings.py)
            os.environ["STRIPE_API_BASE"] = f"http://127.0.0.1:{stripe_port}"
            os.environ["DEMO_STRIPE_FROM_SCRATCH"] = "1"
            _wait_for(f"http://127.0.0.1:{stripe_port}/js.stripe.com/v3/", processes)
        print("Migrating ...", flush=True)
        _manage("migrate", "--noinput", "-v", "0")
        demo = json.loads(_manage("seed_demo", "--json", capture=True).strip().splitlines()[-1])

        port = _free_port(int(os.environ.get("PORT", "8000")))
        host = os.environ.get("HOST", "127.0.0.1")
        url = f"http://{host}:{port}"
        os.environ.setdefault("PUBLIC_URL", url)
        LOGS.mkdir(parents=True, exist_ok=True)
        commands = {
            "web": [
                str(BIN / "gunicorn"), "zenskar.wsgi:application", "--bind", f"{host}:{port}",
                "--workers", os.environ.get("WEB_CONCURRENCY", "2"),
                "--worker-class", "gthread", "--threads", os.environ.get("WEB_THREADS", "4"),
                "--access-logfile", "-",
                "--logger-class", "zenskar.core.access_log.RedactingLogger",
            ],
            "worker": [
                str(BIN / "celery"), "-A", "zenskar", "worker", "--loglevel", "INFO",
                "--concurrency", os.environ.get("WORKER_CONCURRENCY", "2"),
            ],
            "beat": [
                str(BIN / "celery"), "-A", "zenskar", "beat", "--loglevel", "INFO",
                "--schedule", str(embedded.DATA_DIR / "celerybeat-schedule"),
            ],
        }
        for name, command in commands.items():
            log = open(LOGS / f"{name}.log", "a")  # noqa: SIM115 - lives as long as the child
            processes[name] = subprocess.Popen(  # noqa: S603 - our own binaries
                command, stdout=log, stderr=subprocess.STDOUT, cwd=embedded.BASE_DIR
            )
        _wait_for(f"http://127.0.0.1:{port}/healthz", processes)
        print(
            "\n"
            f"  Dashboard   {url}/\n"
            f"  Login       {demo['email']} / {demo['password']}\n"
            f"  API key     {demo['api_key']}\n"
            f"  Try it      curl -H 'Authorization: Bearer {demo['api_key']}' {url}/api/v1/organization\n"
            f"  API docs    {url}/api/docs/\n"
            f"  Logs        {LOGS}/{{web,worker,beat}}.log\n"
            "\nPress Ctrl-C to stop.\n",
            flush=True,
        )
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; see {LOGS}/{name}.log")
                    stopping = True
            time.sleep(0.5)
        return 0
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        print("Stopping ...", flush=True)
        _stop(processes)
        started.stop()
        print("Stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
