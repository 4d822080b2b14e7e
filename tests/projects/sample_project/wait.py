"""Waits (with a grandchild process) until cancelled: for the cancel and Ctrl-C tests."""

from __future__ import annotations

import subprocess
import sys
import time

import cairn

seconds = float(sys.argv[1])
grandchild = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"])
cairn.start_run()
cairn.set_tag("sample.grandchild_pid", str(grandchild.pid))
cairn.flush()
print("sample: waiting", flush=True)
time.sleep(seconds)
