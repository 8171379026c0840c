"""Tenant templates rendered in a child process, under hard limits of time and memory.

The sandbox (:mod:`invoicing.sandbox`) refuses each operation that would be too big and
checks a deadline between operations, but it cannot interrupt one slow operation, nor see
memory built up a piece at a time, nor bound what WeasyPrint does with a template's CSS. So
every compilation and render of a tenant's template -- the Jinja render, and the PDF drawn from
its HTML -- runs in a child process which

* may map at most ``memory_bytes`` more than the render server it is forked from had
  (``RLIMIT_AS``; the warm server maps about 240 MB, mostly shared libraries and fonts): a
  bigger allocation raises ``MemoryError`` in the child;
* is ended by the kernel ``seconds`` after it took the job (``SIGALRM`` left at its default
  action, which no Python code and no C loop can catch); the caller also gives up a little
  later (``GRACE_SECONDS``) and kills it, should it still be there;
* holds no database connection, no file of its caller and none of its secrets: the server is
  started with a short list of environment variables and imports no Django.

Whatever the child does, the caller gets the HTML (or PDF bytes) or a
:class:`~invoicing.sandbox.TemplateError` with a message for people: the template's own error
with its line, "took longer than 10 s ...", "needed more than 512 MB ...", or "stopped the
renderer ..." for a crash.

How. Each process that renders (a gunicorn worker, a Celery prefork child, a test run) starts
one *render server* on its first render: ``python -m invoicing.render_worker FD``, where FD is
a listening Unix socket in a private temporary directory. The server imports the sandbox,
Jinja, Babel and WeasyPrint once and draws a small PDF to load its fonts; then, per
connection, it forks a fresh child (a fork of a warm, single-threaded process: milliseconds),
which reads the job, limits itself, renders, answers and exits. The server ends when its
caller does (its stdin, a pipe from the caller, reaches end of file); a server that died is
started again on the next render; a forked caller (Celery's prefork pool) starts its own.

Why not ``multiprocessing``: Celery's prefork children are daemonic processes, and
``multiprocessing`` refuses to start a child from a daemonic process ("daemonic processes are
not allowed to have children"), whatever the start method. A plain ``subprocess`` per render
works everywhere but pays Python's start-up and WeasyPrint's import on every render (about
0.1 s for HTML, 1 s for a PDF).

The wire: the caller sends a pickled job (the child trusts its caller) and closes its side;
the child answers ``started PID T0`` (``T0`` on the shared monotonic clock), then one JSON
line (status, message, line, size) and the body (UTF-8 HTML or PDF bytes). The caller never
unpickles anything a template could influence.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import pickle
import resource
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from decimal import Decimal
from pathlib import Path
from typing import Any

from invoicing import sandbox
from invoicing.sandbox import TemplateError

__all__ = ["RendererUnavailable", "run"]

START_SECONDS = 60.0  # the longest a caller waits for the server to take a job (a cold start)
GRACE_SECONDS = 2.0  # after a job's limit, how long a caller waits for its child to end
_ROOT = Path(__file__).resolve().parent.parent
_KEPT_ENVIRONMENT = ("PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "LD_LIBRARY_PATH")
_KEPT_PREFIXES = ("LC_", "XDG_", "FONTCONFIG", "PANGO", "PYTHON")


class RendererUnavailable(RuntimeError):
    """The render server could not be started or did not take the job (a fault of the
    deployment, never of a template)."""


def run(kind: str, source: str, *, seconds: float, memory_bytes: int,
        context: dict[str, Any] | None = None, css: str = "",
        locale: str = sandbox.DEFAULT_LOCALE,
        sandbox_seconds: float = sandbox.MAX_RENDER_SECONDS) -> str | bytes | None:
    """Run one job in a fresh child: ``"html"`` returns ``source`` rendered with ``context``
    (CSS inlined), ``"pdf"`` the PDF of that HTML, ``"check"`` None once ``source`` compiles.
    Raises :class:`TemplateError`, including when the child passes ``seconds`` or
    ``memory_bytes``; :class:`RendererUnavailable` when no child could take the job."""
    job = pickle.dumps({"kind": kind, "source": source, "css": css, "context": context,
                        "locale": locale, "sandbox_seconds": sandbox_seconds,
                        "seconds": seconds, "memory_bytes": memory_bytes},
                       protocol=pickle.HIGHEST_PROTOCOL)
    try:
        connection = _server.connect()
    except OSError as error:
        raise RendererUnavailable(f"The template renderer is not running ({error}).") from None
    with connection:
        header, body = _exchange(connection, job, kind, seconds, memory_bytes)
    if header["status"] == "error":
        line = header.get("line")
        raise TemplateError(str(header.get("message")), line if isinstance(line, int) else None)
    if header["status"] == "memory":
        raise TemplateError(f"The template needed more than {_megabytes(memory_bytes)} MB of "
                            "memory to render and was stopped.")
    if kind == "html":
        return body.decode("utf-8", "surrogatepass")
    return body if kind == "pdf" else None


def _megabytes(size: int) -> str:
    return f"{size / 2**20:,.0f}"


def _exchange(connection: socket.socket, job: bytes, kind: str, seconds: float,
              memory_bytes: int) -> tuple[dict[str, Any], bytes]:
    """Send ``job`` and read the child's answer to its end: (header, body) of an answer, or
    the TemplateError of a child that was stopped or crashed."""
    try:
        connection.sendall(job)
        connection.shutdown(socket.SHUT_WR)
    except OSError as error:
        raise RendererUnavailable(f"The template renderer did not take the job ({error}).") \
            from None
    data, child, ended = bytearray(), None, False
    give_up = time.monotonic() + START_SECONDS
    while not ended and (remaining := give_up - time.monotonic()) > 0:
        connection.settimeout(remaining)
        try:
            chunk = connection.recv(1 << 20)
        except TimeoutError:
            break
        except OSError:  # reset: the child is gone
            chunk = b""
        ended = not chunk
        data += chunk
        if child is None and b"\n" in data:  # "started PID T0": its limit runs from T0
            line, _, rest = bytes(data).partition(b"\n")
            child, data = _started(line), bytearray(rest)
            give_up = child[1] + seconds + GRACE_SECONDS
        if len(data) > memory_bytes + (1 << 20):
            raise TemplateError("The rendered document is too large.")
    if child is None:
        raise RendererUnavailable("The template renderer did not take the job; see its log.")
    header_line, _, body = bytes(data).partition(b"\n")
    try:
        header = json.loads(header_line) if ended else {}
    except ValueError:
        header = {}
    if header.get("status") in ("error", "memory") or (
            header.get("status") == "ok" and len(body) == header.get("size")):
        return header, body
    if not ended:  # the kernel should have ended it by now: end it here (it holds our socket)
        _kill(child[0])
    if time.monotonic() - child[1] >= seconds - 0.05:
        as_pdf = " as a PDF" if kind == "pdf" else ""
        raise TemplateError(f"The template took longer than {seconds:g} s to render{as_pdf} "
                            "and was stopped.")
    raise TemplateError("The template stopped the renderer before it finished (it may have "
                        f"needed more than {_megabytes(memory_bytes)} MB of memory).")


def _started(line: bytes) -> tuple[int, float]:
    try:
        _, pid, started = line.split()
        return int(pid), float(started)
    except ValueError:
        raise TemplateError("The template stopped the renderer before it finished.") from None


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


# --- the caller's server -----------------------------------------------------------------------


class _Server:
    """This process's render server: started on first use, again when it has died, and
    forgotten by a forked child (which starts its own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._address = ""

    def connect(self) -> socket.socket:
        """A connection to the server; a server that is gone or cannot be reached (its
        socket removed by a temporary-file cleaner, say) is replaced once."""
        try:
            return self._connect(restart=False)
        except OSError:
            return self._connect(restart=True)

    def _connect(self, *, restart: bool) -> socket.socket:
        with self._lock:
            if restart or self._process is None or self._process.poll() is not None:
                self._start()
            address = self._address
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.connect(address)
        except OSError:
            connection.close()
            raise
        return connection

    def _start(self) -> None:
        if self._process is not None and self._process.stdin is not None:
            self._process.stdin.close()
        address = os.path.join(tempfile.mkdtemp(prefix="zenskar-render-"), "socket")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(address)  # in a directory only this user can enter (mkdtemp)
            listener.listen(64)  # jobs queue here while the server starts
            self._process = subprocess.Popen(  # noqa: S603 -- our own interpreter and module
                [sys.executable, "-m", "invoicing.render_worker", str(listener.fileno())],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, pass_fds=(listener.fileno(),),
                cwd=_ROOT, env=_worker_environment(), start_new_session=True)
        self._address = address

    def forget(self) -> None:
        """In a forked child: the parent's server is the parent's."""
        self._lock = threading.Lock()
        if self._process is not None and self._process.stdin is not None:
            self._process.stdin.close()  # the child's copy: the server still ends with its owner
        self._process, self._address = None, ""


def _worker_environment() -> dict[str, str]:
    """The environment of the render server: what fonts, locales and Python need, and no
    secret (no database URL, no keys)."""
    environment = {name: value for name, value in os.environ.items()
                   if name in _KEPT_ENVIRONMENT or name.startswith(_KEPT_PREFIXES)}
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(_ROOT), *filter(None, environment.get("PYTHONPATH", "").split(os.pathsep))])
    return environment


_server = _Server()
os.register_at_fork(after_in_child=_server.forget)


# --- the server and its children ---------------------------------------------------------------


def serve(listener_fd: int) -> None:
    """The render server: warm up, then fork one child per connection until stdin closes."""
    listener = socket.socket(fileno=listener_fd)
    address = listener.getsockname()
    try:
        _warm_up()
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps finished children
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            selector.register(0, selectors.EVENT_READ)
            while True:
                ready = {key.fileobj for key, _ in selector.select()}
                if 0 in ready and not os.read(0, 1024):
                    return  # the caller has ended
                if listener in ready:
                    with contextlib.suppress(OSError):  # a caller that gave up already
                        connection, _ = listener.accept()
                        _fork_child(listener, connection)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(address)
            os.rmdir(os.path.dirname(address))


def _fork_child(listener: socket.socket, connection: socket.socket) -> None:
    try:
        pid = os.fork()
    except OSError as error:  # too many processes: this job fails, the server goes on
        print(f"render server: cannot fork ({error})", file=sys.stderr)
        connection.close()
        return
    if pid:
        connection.close()
        return
    code = 0
    try:
        listener.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        _render_job(connection)
    except BaseException:  # the caller sees a crash; the log says why
        code = 1
        traceback.print_exc()
    finally:
        os._exit(code)


def _render_job(connection: socket.socket) -> None:
    connection.settimeout(START_SECONDS)
    job = pickle.loads(_read_to_end(connection))  # noqa: S301 -- a socket only we can reach
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    limit = _address_space() + int(job["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # its default action ends the process
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, float(job["seconds"]))
    connection.settimeout(None)
    connection.sendall(f"started {os.getpid()} {started!r}\n".encode())
    body, header = b"", {"status": "ok"}
    try:
        body = _work(job)
    except TemplateError as error:
        header = {"status": "error", "message": error.message, "line": error.line}
    except MemoryError:
        header = {"status": "memory"}
    except Exception as error:  # a fault of the renderer, not of the template
        header = {"status": "error", "line": None,
                  "message": f"The template could not be rendered ({type(error).__name__})."}
    header["size"] = len(body)
    connection.sendall(json.dumps(header).encode() + b"\n" + body)


def _work(job: dict[str, Any]) -> bytes:
    if job["kind"] == "check":
        sandbox.template_check(job["source"], locale=job["locale"])
        return b""
    html = sandbox.render_html(job["source"], job["context"], css=job["css"],
                               seconds=job["sandbox_seconds"])
    if job["kind"] == "pdf":
        return sandbox.html_to_pdf(html)
    return html.encode("utf-8", "surrogatepass")


def _read_to_end(connection: socket.socket) -> bytes:
    chunks = []
    while chunk := connection.recv(1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _address_space() -> int:
    """The bytes this process maps now (Linux); 0 where unknown."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


def _warm_up() -> None:
    """Render the default template, as HTML and as a PDF, once in the server: its children
    start with Babel's data, Jinja's caches and WeasyPrint's fonts loaded."""
    folder = Path(__file__).parent / "templates" / "invoicing"
    html, css = ((folder / f"default_invoice.{ext}").read_text(encoding="utf-8")
                 for ext in ("html.j2", "css"))
    sandbox.html_to_pdf(sandbox.render_html(html, WARM_UP_CONTEXT, css=css))


def _line(description: str, quantity: str, unit_price: str | None, amount: str, rate: str,
          steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {"description": description, "kind": "recurring", "kind_label": "Recurring",
            "period_start": dt.date(2026, 3, 1), "period_end": dt.date(2026, 4, 1),
            "quantity": Decimal(quantity), "unit_price": unit_price and Decimal(unit_price),
            "amount": Decimal(amount), "tax_rate": Decimal(rate),
            "tax_amount": Decimal(amount) * Decimal(rate) / 100, "steps": steps, "meter": None,
            "usage_window": None, "usage_quantity": None}


def _tier(description: str, quantity: str, unit_price: str, amount: str) -> dict[str, Any]:
    return {"kind": "tier", "description": description, "quantity": Decimal(quantity),
            "unit_price": Decimal(unit_price), "amount": Decimal(amount)}


# A three-line invoice in the shape of invoicing.rendering.invoice_context: the server renders
# it once when it starts; bench/template_render.py times it.
WARM_UP_CONTEXT: dict[str, Any] = {
    "organization": {"name": "Acme", "address": "Acme Billing Inc.\n1 Main Street",
                     "address_lines": ["Acme Billing Inc.", "1 Main Street"], "logo_url": "",
                     "footer": "Bank: First Bank, account 1234 5678"},
    "customer": {"name": "Initech LLC", "emails": ["ap@initech.test"],
                 "address_lines": ["500 Technology Dr", "Austin, TX 78701", "United States"],
                 "country": "US", "country_name": "United States", "tax_id": "US-99-1234567"},
    "invoice": {"number": "ACME-2026-0007", "status": "finalized", "status_label": "Finalized",
                "issue_date": dt.date(2026, 3, 1), "due_date": dt.date(2026, 3, 31),
                "period_start": dt.date(2026, 3, 1), "period_end": dt.date(2026, 4, 1),
                "currency": "USD", "subtotal": Decimal("1600.00"),
                "tax_total": Decimal("145.00"), "total": Decimal("1745.00"),
                "amount_credited": Decimal("0.00"), "credit_applied": Decimal("100.00"),
                "amount_received": Decimal("0.00"), "amount_refunded": Decimal("0.00"),
                "amount_paid": Decimal("0.00"), "amount_due": Decimal("1645.00"), "memo": ""},
    "lines": [
        _line("Platform fee", "1", "1000.00", "1000.00", "10", []),
        _line("Seats", "25", "12.00", "300.00", "10", []),
        _line("API calls", "250000", None, "300.00", "5", [
            _tier("Tier 1 (up to 100000): 100000 units x 0", "100000", "0", "0"),
            _tier("Tier 2 (over 100000): 150000 units x 0.002", "150000", "0.002", "300")]),
    ],
    "taxes": [{"name": "Tax", "rate": Decimal(5), "base": Decimal("300.00"),
               "amount": Decimal("15.00")},
              {"name": "Sales tax", "rate": Decimal(10), "base": Decimal("1300.00"),
               "amount": Decimal("130.00")}],
    "payment_url": "https://pay.test/i/1", "locale": "en_US",
}


if __name__ == "__main__":
    serve(int(sys.argv[1]))
