"""What grading writes: per-student outputs and the course's records.

Module map:

- :mod:`~autograder.report.results` -- results.json (Gradescope's format), grades.csv, atomic writes.
- :mod:`~autograder.report.feedback` -- feedback.html: the student's executed notebook, sanitized, with the results.
- :mod:`~autograder.report.gradebook` -- the course's nbgrader gradebook.
"""
