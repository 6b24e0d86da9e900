"""`python -m maratron_devstack.check`: exit 0 when every *_URL variable that is set names a
server that answers; otherwise print the one-line reason and exit 1. CI uses it to decide
whether to run the integration suites against the machine's own servers."""

from __future__ import annotations

import sys

from maratron_devstack.external import Unreachable, check_reachable, external_urls


def main() -> int:
    try:
        check_reachable(external_urls(), timeout=2.0)
    except Unreachable as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
