"""Proxies for objects living in the student kernel: :class:`RemoteHandle` (an opaque object: attributes,
items, calls) and :class:`RemoteDict` (a dict argument whose mutations are written back after a call).

The trust model (``docs/design.md``): whatever a handle returns is data the grader validates; nothing the
kernel holds is ever trusted. Handles are made by :class:`autograder.kernel.client.StudentKernel`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from autograder.kernel.client import StudentKernel

__all__ = ["RemoteHandle", "RemoteDict", "describe", "sync_back"]

_MISSING = object()


class RemoteHandle:
    """Opaque reference to an object living in the student kernel.

    Produced by :meth:`~autograder.kernel.client.StudentKernel.get`, calls, and attribute or item
    reads whenever the value is not plain data.  Operations are remote:

    * ``h(*args, **kwargs)`` calls it (:meth:`StudentKernel.call`);
    * ``h.name`` returns plain data (a dict is a write-through :class:`RemoteDict`) or a handle;
      dunder names are not forwarded (``AttributeError``);
    * ``h.name = value`` sets the attribute in the kernel (the value is sent as data);
    * ``h[key]``, ``h[key] = value``, ``del h[key]``.

    A handle can be passed back as an argument.  It becomes invalid when the kernel is
    restarted; the kernel-side object is released when the handle is garbage-collected.
    """

    __slots__ = ("_ag_kernel", "_ag_hid", "_ag_type", "_ag_gen", "_ag_label", "__weakref__")

    def __init__(self, kernel: StudentKernel, hid: int, type_name: str, generation: int):
        object.__setattr__(self, "_ag_kernel", kernel)
        object.__setattr__(self, "_ag_hid", hid)
        object.__setattr__(self, "_ag_type", type_name)
        object.__setattr__(self, "_ag_gen", generation)
        object.__setattr__(self, "_ag_label", "")

    def _remote_ref(self) -> tuple[StudentKernel, int, str, int]:
        return self._ag_kernel, self._ag_hid, self._ag_type, self._ag_gen

    def _set_label(self, label: str) -> RemoteHandle:
        object.__setattr__(self, "_ag_label", label)
        return self

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        value = self._ag_kernel._getattr(self, name)
        if isinstance(value, RemoteHandle):
            value._set_label(f"{describe(self, quote=False)}.{name}")
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        self._ag_kernel._setattr(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError("deleting attributes of remote objects is not supported")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._ag_kernel.call(self, *args, **kwargs)

    def __getitem__(self, key: Any) -> Any:
        return self._ag_kernel._getitem(self, key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._ag_kernel._setitem(self, key, value)

    def __delitem__(self, key: Any) -> None:
        self._ag_kernel._delitem(self, key)

    def __repr__(self) -> str:
        return f"<RemoteHandle {describe(self, quote=False)} ({self._ag_type}) in the student kernel>"

    def __del__(self) -> None:
        try:
            self._ag_kernel._release(self._ag_gen, self._ag_hid)
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


class RemoteDict(dict):
    """A local copy of a kernel-side dict that writes through (``model.params['W1'] = W``).

    Returned for a dict read as an attribute or item of a handle (``model.params``).  Reads are
    local.  ``d[k] = v``, ``del d[k]``, ``update``, ``setdefault``, ``pop``, ``popitem`` and
    ``clear`` also change the kernel's dict.  In-place edits of the arrays it holds
    (``d['W1'][0, 0] += h`` as numerical gradient checks do) are pushed to the kernel before
    the next request.  Changes made by the kernel later are not pulled: read the attribute
    again.  Copies (``dict(d)``, ``copy.deepcopy(d)``) are plain dicts.
    """

    def __init__(self, data: Any = (), *, kernel: StudentKernel | None = None, ref: int | None = None,
                 generation: int = 0):
        super().__init__(data)
        if kernel is not None and ref is None:
            raise TypeError("RemoteDict: a dict of a kernel needs its handle's ref; pass kernel= and ref= together")
        self._ag_handle = RemoteHandle(kernel, ref, "dict", generation) if kernel is not None and ref is not None \
            else None
        self._ag_snap = {k: (v, v.copy()) for k, v in dict.items(self) if isinstance(v, np.ndarray)}
        if kernel is not None:
            kernel._track(self)

    def _push_changes(self) -> None:
        h = self._ag_handle
        if h is None:
            return
        kernel, _hid, _t, gen = h._remote_ref()
        if gen != kernel._generation or not kernel.alive:
            self._ag_snap.clear()
            return
        for key, (obj, snap) in list(self._ag_snap.items()):
            if dict.get(self, key, _MISSING) is not obj:
                continue
            if obj.shape != snap.shape or obj.dtype != snap.dtype or obj.tobytes() != snap.tobytes():
                kernel._setitem(h, key, obj)
                self._ag_snap[key] = (obj, obj.copy())

    def __setitem__(self, key: Any, value: Any) -> None:
        if self._ag_handle is not None:
            self._ag_handle._ag_kernel._setitem(self._ag_handle, key, value)
        dict.__setitem__(self, key, value)
        self._ag_snap.pop(key, None)
        if isinstance(value, np.ndarray):
            self._ag_snap[key] = (value, value.copy())

    def __delitem__(self, key: Any) -> None:
        if self._ag_handle is not None:
            self._ag_handle._ag_kernel._delitem(self._ag_handle, key)
        dict.__delitem__(self, key)
        self._ag_snap.pop(key, None)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    def pop(self, key: Any, *default: Any) -> Any:
        if key in self:
            value = dict.__getitem__(self, key)
            del self[key]
            return value
        if default:
            return default[0]
        raise KeyError(key)

    def popitem(self) -> tuple[Any, Any]:
        if not self:
            raise KeyError("popitem(): dictionary is empty")
        key = next(reversed(self))
        return key, self.pop(key)

    def clear(self) -> None:
        for key in list(self):
            del self[key]

    def __reduce__(self):
        return (dict, (dict(self),))

    def __copy__(self) -> dict:
        return dict(self)


def describe(target: Any, quote: bool = True) -> str:
    """Student-facing name of a call target (``"`model.loss`"``)."""
    if isinstance(target, RemoteHandle):
        text = target._ag_label or f"a {target._ag_type}"
    else:
        text = str(target)
    return f"`{text}`" if quote else text


def sync_back(orig: Any, new: Any) -> None:
    """Update a grader-side ``dict`` argument ``orig`` to the state the student's call left its copy in.

    The student's function received a fresh copy of every argument (the wire serializes it), so it
    never touches a grader object. What cs231n's layer contract asks for (``bn_param['running_mean']``
    written in place) is honoured for **top-level dict arguments only**: keys the student removed are
    removed, every other key is set to the kernel's value. Values are fresh objects decoded from the
    kernel's reply and are *assigned*, never merged into the objects ``orig`` held before, so a list
    or dict shared with other grader state (a check's constant, a reference computed earlier) is never
    edited. Lists, tuples and anything that is not a dict are left exactly as they were.
    """
    if not isinstance(orig, dict) or not isinstance(new, dict):
        return
    for k in [k for k in orig if k not in new]:
        dict.__delitem__(orig, k)
    for k, v in new.items():
        dict.__setitem__(orig, k, v)
