"""``python -m densekit`` runs the command line, like the ``densekit`` script."""

import sys

from .cli import main

sys.exit(main())
