"""The schedule is pure arithmetic: importing it must not pull in Django, DRF or Celery
(import-linter checks the same in CI; this fails fast in the unit suite)."""

import subprocess
import sys


def test_schedule_imports_no_framework() -> None:
    probe = (
        "import sys, contracts.schedule; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'rest_framework', 'celery'}))"
    )

    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
