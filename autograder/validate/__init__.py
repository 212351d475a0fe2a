"""Checking an assignment after every edit (``python -m autograder validate [ASSIGNMENT...]``).

Fast (no torch, no browser, no kernel unless asked). Module map, in the order the checks run
(:data:`autograder.validate.checks.CHECKS`):

- :mod:`~autograder.validate.structure` -- the source notebook's structure and self-contained test cells;
  ``release`` and ``grade`` run it first and refuse with its messages (``require_valid``).
- :mod:`~autograder.validate.library` -- ``course_lib``'s solution markers, and library answers to the
  notebook's exercises.
- :mod:`~autograder.validate.leaks` -- solution, hidden-test or stripped library text in ``release/<name>/``.
- :mod:`~autograder.validate.drift` -- ``release/<name>/`` against a fresh build.
- :mod:`~autograder.validate.solutions` -- (``--run``) the notebook's own solutions graded by the real pipeline.
- :mod:`~autograder.validate.checks` -- ``validate``: the checks in order, on each assignment.
"""
