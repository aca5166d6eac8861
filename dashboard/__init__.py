"""PoisonLab dashboard: the face of :mod:`core`."""

import os

# Background jobs are forked from threaded web processes (gunicorn gthread, werkzeug). A
# fork while another thread is inside an OpenMP region leaves the child's copy of the
# OpenMP thread pool locked, and the child hangs at its first parallel region (seen under
# load: a job stuck for good in scikit-learn's k-NN search for LOF). One OpenMP thread per
# process avoids the pool; it must be set before scikit-learn is imported, hence here.
# scikit-learn's OpenMP code (nearest-neighbour searches) gives the same results either way.
os.environ.setdefault("OMP_NUM_THREADS", "1")
