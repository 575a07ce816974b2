"""`python -m companion_kernel`."""

import sys

from .cli import main

sys.exit(main())
