"""What rendering a tenant's template in a child process costs.

    .venv/bin/python bench/template_render.py [--runs 50]

Renders the default invoice template on a three-line invoice (``WARM_UP_CONTEXT`` of
``invoicing.render_worker``, shaped as ``invoicing.rendering.invoice_context`` builds it: no
database needed) in this process, straight through the sandbox, and through ``invoicing.render_worker``, each
as HTML and as a PDF. Prints the median of each way, and their difference: the cost of the
child process per render. The worker's first render, which starts its server, is timed apart.
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import ROOT

from invoicing import render_worker, sandbox
from invoicing.render_worker import WARM_UP_CONTEXT as CONTEXT

MEMORY_BYTES = 512 * 2**20


def _median_ms(function, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    runs = parser.parse_args().runs
    folder = ROOT / "invoicing" / "templates" / "invoicing"
    html, css = ((folder / name).read_text() for name in ("default_invoice.html.j2",
                                                           "default_invoice.css"))

    def in_process(kind: str):
        page = sandbox.render_html(html, CONTEXT, css=css)
        return sandbox.html_to_pdf(page) if kind == "pdf" else page

    def in_child(kind: str):
        return render_worker.run(kind, html, context=CONTEXT, css=css, seconds=30,
                                 memory_bytes=MEMORY_BYTES)

    start = time.perf_counter()
    in_child("html")
    print(f"first render (starts the server)  {(time.perf_counter() - start) * 1000:7.1f} ms")
    assert in_child("html") == in_process("html")
    in_process("pdf")  # this process's fonts, as warm as the server's
    for kind in ("html", "pdf"):
        here = _median_ms(lambda kind=kind: in_process(kind), runs)
        there = _median_ms(lambda kind=kind: in_child(kind), runs)
        print(f"{kind:4}  in process {here:7.1f} ms   in a child {there:7.1f} ms   "
              f"overhead {there - here:6.1f} ms  (median of {runs})")


if __name__ == "__main__":
    main()
