"""Starting almkit's servers as real subprocesses for tests: a free localhost port, and a wait until it listens."""

import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], port: int, timeout: float = 90, **popen) -> subprocess.Popen:
    """Run ``cmd`` and return once something listens on ``port`` (failing with the server's stderr if it exits)."""
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, **popen)
    deadline = time.time() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            assert proc.poll() is None and time.time() < deadline, proc.stderr.read().decode()
            time.sleep(0.2)
