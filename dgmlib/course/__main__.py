"""``python -m dgmlib.course ...``: see :mod:`dgmlib.course.cli`."""

import sys

from .cli import main

sys.exit(main())
