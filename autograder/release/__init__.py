"""Building the student releases: ``release/<name>/`` from ``source/<name>/`` plus a stripped ``course_lib``
(``python -m autograder release [--check] [NAME...]``).

Module map (in the order of a build, :func:`autograder.release.build.build_release`):

- :mod:`~autograder.release.errors` -- ``ReleaseError`` and ``SourceNotFoundError``.
- :mod:`~autograder.release.notebooks` -- 1. nbgrader's ``GenerateAssignment`` in-process (solutions become
  stubs, hidden tests go); 2. deterministic notebook JSON.
- :mod:`~autograder.release.library` -- 3. ``course_lib`` without the solution regions that name the
  assignment (``# BEGIN SOLUTION <assignment> ...`` / ``# END SOLUTION``), and what that leaves out.
- :mod:`~autograder.release.student_files` -- 4. ``requirements.txt`` and ``README.md``.
- :mod:`~autograder.release.build` -- a whole release, built aside and swapped in (``release``), and the
  comparison of ``release/`` with a fresh build (``check_release``).

``release`` first runs the structural checks of :mod:`autograder.validate.structure` and refuses with their
messages.
"""
