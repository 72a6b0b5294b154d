"""``python -m web``: see ``web.cli``."""

import sys

from .cli import main

sys.exit(main())
