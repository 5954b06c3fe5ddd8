"""``python -m rerankit``: the same command line as the ``rerankit`` executable."""

from rerankit._cli import main

raise SystemExit(main())
