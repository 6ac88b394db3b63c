from __future__ import annotations

import subprocess
import sys


def test_importing_the_adviser_package_does_not_import_anthropic() -> None:
    code = (
        "import sys, specflowd.adviser, specflowd.adviser.uses, specflowd.adviser.runtime\n"
        "print('anthropic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
