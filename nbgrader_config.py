"""nbgrader configuration: the repository root is the course directory.

``python -m autograder release [NAME...]`` (see ``autograder/release.py``) builds ``release/<name>/``
from ``source/<name>/`` with these settings plus the stripped ``course_lib``; it does not read this file
(so a user's ``~/.jupyter`` config cannot change the committed release) but uses the same values, taken
from :mod:`autograder.assignments`. Plain ``nbgrader`` commands run from the repository root read this
file, e.g. ``nbgrader generate_assignment fc_nets --force`` (which records the assignment in the gradebook
but writes a release without the shipped library: use the project command for ``release/``).
"""

import os
import sys

# Run from the repository root, so autograder.assignments is importable without installing the package.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from autograder.assignments import assignment_names, nbgrader_settings  # noqa: E402

c = get_config()  # noqa: F821 -- provided by traitlets when nbgrader loads this file

for _section, _values in nbgrader_settings(os.path.dirname(os.path.abspath(__file__))).items():
    for _key, _value in _values.items():
        setattr(getattr(c, _section), _key, _value)

# The assignments (folders of source/ with a notebook). nbgrader 0.9 has no setting for an assignment list
# (the gradebook records an assignment when it is generated); `python -m autograder release` builds these.
assignments = assignment_names(os.path.dirname(os.path.abspath(__file__)))
