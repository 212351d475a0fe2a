"""Grading: from a folder of submissions to one result per student (``python -m autograder grade``).

Module map (in the order of the flow):

- :mod:`~autograder.grade.batch` -- a whole assignment: find it, discover submissions, skip unchanged ones,
  run the jobs, write the outputs (:mod:`autograder.report`), print the summary.
- :mod:`~autograder.grade.submissions` -- locate and safely read submissions (folders, zips, LMS names).
- :mod:`~autograder.grade.parallel` -- run the jobs in this process or on Dask workers.
- :mod:`~autograder.grade.job` -- the data of one submission's grading (``GradingJob``, ``GradingOptions``,
  ``GradingState``, ``TestResult``) and the source notebook's graded cells.
- :mod:`~autograder.grade.fingerprint` -- hashes of every input of a verdict (what a re-run re-grades).
- :mod:`~autograder.grade.source` -- graded cells and exercises from the instructor's source notebook.
- :mod:`~autograder.grade.cell` -- one graded test cell run in the grader, exercises bound to kernel proxies.
- :mod:`~autograder.grade.pipeline` -- ``grade_submission``: the ordered ``STEPS`` on one ``GradingState``.
- :mod:`~autograder.grade.result` -- the result dict of a graded submission (and of one that failed).

The student's code runs in :mod:`autograder.kernel`; the verdicts come from :mod:`autograder.checks`.
"""
