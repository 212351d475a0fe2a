"""The student kernel: student code runs here, isolated and resource-limited; nothing it returns is trusted.

Module map (lower layers first; no module imports one above it):

- :mod:`~autograder.kernel.wire` -- framed, pickle-free serialization; also runs, as a standalone file, in the sandbox.
- :mod:`~autograder.kernel.server` -- the kernel-side program (``--init`` supervisor, ``--serve`` IPython shell);
  copied into the sandbox with ``wire.py``, standard library only at module level.
- :mod:`~autograder.kernel.errors` -- kernel failures (``KernelError``...) and the student's re-raised exceptions.
- :mod:`~autograder.kernel.plan` -- the sandbox's plan, pure: ``Limits``, hidden paths, the JSON plan, rlimits.
- :mod:`~autograder.kernel.process` -- isolation modes, memory cgroups, ``lock_down``, a kernel's OS resources.
- :mod:`~autograder.kernel.handles` -- proxies of kernel objects (``RemoteHandle``, ``RemoteDict``).
- :mod:`~autograder.kernel.client` -- ``StudentKernel``: start, restart, close, run cells, get and call.
"""
