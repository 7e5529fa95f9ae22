"""``python -m smsgw``: the same as the ``smsgw`` command."""

import sys

from smsgw.cli import main

sys.exit(main())
