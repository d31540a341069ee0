"""``python -m enforcer``: the command line (see :mod:`enforcer.cli`)."""

from .cli import main

raise SystemExit(main())
