"""``python -m densekit.cli``: the same command line as ``densekit``."""

import sys

from . import main

sys.exit(main())
