"""PoisonLab dashboard: the face of :mod:`core`."""
