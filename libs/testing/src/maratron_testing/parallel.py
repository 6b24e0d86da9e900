"""Parallel runs with pytest-xdist: tests that share an expensive fixture go to one worker.

pytest-xdist's own `--dist loadgroup` reads `xdist_group` marks by rewriting node ids on the
workers, which pytest 9.2 no longer allows (node ids are structured); so the workers write
their groups to a file instead, and the controller's scheduler (`GroupScheduling`, chosen for
`--dist loadgroup`) reads them:

* workers: `write_groups(folder, worker_id, {nodeid: group})` after collection;
* controller: `GroupScheduling` (an xdist `LoadScopeScheduling` whose scope is the group, or
  the test itself when it has none), most expensive units first: the groups built around a
  session fixture (a cluster of processes), then the others, larger first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from xdist.scheduler import LoadScopeScheduling

SESSION_PREFIX = "session:"


def write_groups(folder: Path, worker_id: str, groups: dict[str, str]) -> None:
    partial = folder / f"{worker_id}.tmp"
    partial.write_text(json.dumps(groups))
    partial.replace(folder / f"{worker_id}.json")  # the controller never sees half a file


def read_groups(folder: Path) -> dict[str, str]:
    """The groups one worker wrote (every worker collects the same tests)."""
    for path in sorted(folder.glob("*.json")):
        loaded: dict[str, str] = json.loads(path.read_text())
        return loaded
    return {}


class GroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
    def __init__(self, config: Any, log: Any, folder: Path) -> None:
        super().__init__(config, log)
        self.folder = folder
        self.groups: dict[str, str] | None = None
        self.reordered = False

    def _split_scope(self, nodeid: str) -> str:
        if self.groups is None:
            self.groups = read_groups(self.folder)
        return self.groups.get(nodeid, nodeid)

    def _assign_work_unit(self, node: Any) -> None:
        # The queue is built largest unit first; before the first assignment, move the units
        # around a session fixture ahead of the others (a cluster start costs more than many
        # small tests), so that they start at once, on different workers.
        if not self.reordered:
            self.reordered = True
            units = sorted(
                self.workqueue.items(), key=lambda u: not u[0].startswith(SESSION_PREFIX)
            )
            self.workqueue.clear()
            self.workqueue.update(units)
        super()._assign_work_unit(node)
