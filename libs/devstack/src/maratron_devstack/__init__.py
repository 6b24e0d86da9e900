"""The embedded development stack: real NATS (JetStream), PostgreSQL and Redis started from
pip-installed binaries as child processes on free loopback ports.

Modules:
  process   - ManagedProcess: spawn in its own process group, die with the parent, clean stop
  ports     - free loopback ports
  paths     - the project data folder (`.data/`, or MARATRON_DATA_DIR)
  nats / postgres / redis - one embedded server each
  stack     - EmbeddedStack / open_stack: embedded or external servers, resolved from *_URL
  external  - reachability checks of external servers (one clear line naming the variable)
  tokens    - RS256 development key pair and JWT minting / verification
"""

from maratron_devstack.external import Unreachable
from maratron_devstack.stack import EmbeddedStack, StackUrls, open_stack

__all__ = ["EmbeddedStack", "StackUrls", "Unreachable", "open_stack"]
