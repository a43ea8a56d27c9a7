"""``python -m operator_cli``: the ``recommender`` command."""

import sys

from operator_cli.cli import main

sys.exit(main())
