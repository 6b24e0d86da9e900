"""`python -m maratron_cli ...` is the same as `maratron ...`."""

import sys

from maratron_cli.main import main

sys.exit(main())
