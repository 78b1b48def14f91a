"""``python -m korefw.cli``: the same as the ``korefw`` command."""

import sys

from . import main

sys.exit(main())
