"""Running a program with its stderr on a pseudo-terminal, as a person at a terminal would."""

from __future__ import annotations

import os
import pty
import subprocess
from collections.abc import Sequence


def run_on_a_terminal(argv: Sequence[str], timeout: float = 120) -> tuple[int, bytes, str]:
    """Run ``argv`` with stderr on a pty; returns (exit status, terminal output, stdout)."""
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            list(argv), stderr=follower, stdout=subprocess.PIPE, timeout=timeout, text=True
        )
        os.close(follower)
        follower = -1
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the other end is closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    return done.returncode, shown, done.stdout
