"""Child processes that never outlive their parent.

Each child runs in its own process group (so a terminal's Ctrl-C reaches only the parent, which
stops children in order, and a stop reaches a server's own children too) and asks the kernel to
SIGKILL it when the parent dies (PR_SET_PDEATHSIG), so a killed parent leaves no orphans.

PR_SET_PDEATHSIG fires when the *thread* that forked the child exits: spawn from a long-lived
thread (the main thread), never from a short-lived worker thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1


class StartError(RuntimeError):
    """A child did not become ready; the message says which and where its log is."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # The parent may already be gone between fork and prctl.
    if os.getppid() == 1:
        os._exit(1)


def pid_running(pid: int) -> bool:
    """Is `pid` a live process (a zombie waiting to be reaped counts as gone)?"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.005,
    alive: Callable[[], bool] | None = None,
) -> bool:
    """Poll `condition` until true (True), the deadline passes or `alive()` turns false (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if (alive is not None and not alive()) or time.monotonic() >= deadline:
            return False
        time.sleep(interval)


@dataclass
class ManagedProcess:
    """One child process, its log file, and how to stop it."""

    name: str
    args: Sequence[str]
    log_path: Path
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    user: str | None = None
    stop_signal: signal.Signals = signal.SIGTERM
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            list(self.args),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=dict(self.env) if self.env is not None else None,
            cwd=self.cwd,
            user=self.user,
            process_group=0,
            preexec_fn=_die_with_parent,
            close_fds=True,
        )
        return self

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise RuntimeError(f"{self.name} was never started")
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def returncode(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def stop(self, grace: float = 10.0) -> None:
        """Send the stop signal to the whole group, SIGKILL it after `grace` seconds."""
        stop_all([self], grace)

    def _request_stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self._signal_group(self.stop_signal)

    def _finish_stop(self, deadline: float) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            try:
                self.popen.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.popen.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def stop_all(processes: Sequence[ManagedProcess], grace: float = 10.0) -> None:
    """Stop `processes` together: signal all, then wait for each within one shared grace
    period, SIGKILLing the groups that outlive it."""
    for process in processes:
        process._request_stop()
    deadline = time.monotonic() + grace
    for process in processes:
        process._finish_stop(deadline)
