"""PoisonLab dashboard: the face of :mod:`core`."""

import os

# One OpenMP thread per process. Background jobs used to be forked from the threaded web
# process, and a fork while another thread was inside an OpenMP region left the child's
# copy of the pool locked (a job stuck for good in scikit-learn's k-NN search for LOF).
# Jobs now start from a fork server (dashboard.app.start_jobs_from_a_fork_server), but a
# web worker, its story threads and its jobs still share two cores, where extra OpenMP
# threads only oversubscribe them. It must be set before scikit-learn is imported, hence
# here; scikit-learn's OpenMP code (nearest-neighbour searches) gives the same results.
os.environ.setdefault("OMP_NUM_THREADS", "1")
