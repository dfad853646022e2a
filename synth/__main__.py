"""Entry point of ``python -m synth`` (``make synth``)."""

import sys

from synth.cli import main

sys.exit(main())
