"""How a server process's CPU threads wait: OpenMP workers sleep between operations instead of spinning.

torch runs each operation of a forward pass on a team of OpenMP threads (libgomp). Between
operations, and after the last one, GNU OpenMP's workers spin for a while before they sleep, so
that the next operation starts a few microseconds sooner. On a machine whose cores are shared
(other services, other processes, the server's own event loop and tokenizer) a spinning worker
takes the core from the thread that holds the work, and a forward pass waits at each barrier for a
partner thread the kernel has not scheduled: on this project's loaded 2-core machine that made a
MiniLM-L6 request cost 2.5x the CPU time and 3 to 5x the wall time of the same forward passes with
waiting workers asleep (``benchmarks/serve.py``). A server's work comes in bursts with gaps
between them, exactly where spinning is waste, so a served process sets
``OMP_WAIT_POLICY=PASSIVE`` before torch loads: workers sleep as soon as they are idle.

OpenMP reads the variable once, when torch is imported, so this only applies where no torch was
imported before the service starts (as in ``rerankit serve``, which loads models afterwards); a
value the user set (``OMP_WAIT_POLICY=ACTIVE``, or ``GOMP_SPINCOUNT``) is kept.
"""

from __future__ import annotations

import logging
import os
import sys

logger = logging.getLogger("rerankit").getChild("serve")  # not a dotted literal (the import graph reads those)

#: The variables that decide how OpenMP workers wait; any of them set by the user is left alone.
WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def settle_openmp_waiting() -> None:
    """Make idle OpenMP workers sleep rather than spin (see the module docstring), once, before torch loads."""
    if any(name in os.environ for name in WAIT_VARIABLES):
        return
    if "torch" in sys.modules:
        logger.info(
            "torch was imported before the server started, so its OpenMP threads keep spinning when idle; "
            "set OMP_WAIT_POLICY=PASSIVE before starting the process to spend less CPU per request"
        )
        return
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


__all__ = ["settle_openmp_waiting"]
