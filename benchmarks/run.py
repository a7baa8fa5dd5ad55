"""Run the benchmark harness from a source checkout: ``python benchmarks/run.py [ARGS]``.

The same as ``python -m xpnet bench [ARGS]`` (the harness ships inside the package, as
:mod:`xpnet.bench`, so that it also runs after a plain ``pip install``). To refresh
``RESULTS.md``::

    python benchmarks/run.py --json benchmarks/results.json --markdown benchmarks/RESULTS.md
"""

from __future__ import annotations

import sys

from xpnet.bench import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
