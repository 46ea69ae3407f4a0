"""`python -m aeviz.cli`: the `aeviz` command."""

import sys

from .main import main

sys.exit(main())
