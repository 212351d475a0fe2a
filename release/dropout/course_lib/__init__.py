"""Reference numpy library for the deep-network assignments.

API-compatible with the cs231n assignment-2 library (``layers``, ``layer_utils``,
``optim``, ``fc_net``, ``solver``, ``gradient_check``, ``data``), so notebook
cells written for it run unchanged.
"""

#: The project's version; pyproject.toml reads it from here (the one place), and it ships with every release.
__version__ = "0.1.0"
