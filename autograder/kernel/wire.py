"""Framed, pickle-free serialization between the grader and the student kernel.

The same module runs on both sides of the pipe: the grader imports it as
``autograder.kernel.wire`` and the sandboxed kernel server loads a copy of this file
(it only needs the standard library and numpy).  Nothing here ever unpickles or
evaluates anything: a frame is a JSON header describing a tree of tagged nodes
plus raw little-endian array buffers, and :func:`decode` validates every node.

Data model
----------
``None``, ``bool``, ``int``, ``float`` (including nan/inf), ``complex``, ``str``
(valid Unicode: a lone surrogate such as ``"\\udc80"`` arrives as U+FFFD, see :func:`valid_unicode`),
``bytes`` (at most :data:`MAX_BYTES_OBJECT`), numpy arrays of a numeric or bool
dtype (any shape, at most :data:`MAX_ARRAY_BYTES`), numpy scalars of those dtypes
(decoded as numpy scalars), ``list``, ``tuple``, ``set``, ``frozenset``, ``dict`` (keys of
any hashable value of the model: ``str``, numbers, tuples...), nested up to :data:`MAX_DEPTH`.
Subclasses travel as their base type (an ``OrderedDict`` arrives as a ``dict``).
Anything else is encoded by the ``handle`` callback given to :func:`encode` (the
kernel registers the object and sends an opaque id; the grader sends back ids of
:class:`autograder.kernel.handles.RemoteHandle` objects) and decoded by the
``make_handle`` callback given to :func:`decode`.

Frame layout
------------
``MAGIC (4 bytes) | body length (uint64 BE) | header length (uint32 BE) | header JSON | buffers``.
The header is ``{"tree": node, "buffers": [len, ...]}``; the buffers follow back
to back and their lengths must add up exactly to the rest of the body.

Node tags (JSON arrays)::

    ["N"]                      None
    ["B", true]                bool
    ["I", "123"]               int (decimal string, at most 4300 digits)
    ["F", 1.5] / ["F", "nan"]  float ("nan", "inf", "-inf" as strings)
    ["C", re, im]              complex (each part as in "F")
    ["S", "text"]              str
    ["Y", k]                   bytes = buffer k
    ["A", dtype, shape, k]     ndarray, C order, little-endian, buffer k
    ["Z", dtype, k]            numpy scalar, buffer k
    ["L", [node...]]           list
    ["T", [node...]]           tuple
    ["D", [[key, node]...]]    dict (str keys)
    ["M", [[node, node]...]]   dict with other keys (each key must decode to a hashable value)
    ["ST", [node...]]          set (elements must decode to hashable values)
    ["FS", [node...]]          frozenset
    ["H", id, "type name"]     handle to an object living in the kernel

Every buffer must be used exactly once.

Limits before parsing
---------------------
The peer may be hostile (a student's code can write to the kernel's socket), so the
sizes are checked before anything is allocated for them: :func:`recv_frame` refuses an
announced frame or header length over its caps before reading it, and :func:`decode`
counts the JSON values and measures the nesting depth of the header with a byte scan
(strings blanked by one regular expression) before ``json.loads`` builds any object
(:data:`MAX_JSON_VALUES`, :data:`MAX_JSON_DEPTH`), so a header costs at most a small
multiple of its own size.
"""

from __future__ import annotations

import json
import math
import re
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "WireError",
    "FrameTooLarge",
    "NotPlainData",
    "encode",
    "decode",
    "send_frame",
    "recv_frame",
    "valid_unicode",
    "valid_unicode_tree",
    "ALLOWED_DTYPES",
    "MAGIC",
    "MAX_FRAME_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_ARRAY_BYTES",
    "MAX_BYTES_OBJECT",
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_JSON_VALUES",
    "MAX_JSON_DEPTH",
]

MAGIC = b"AGW1"
_PREFIX = struct.Struct(">4sQ")
_HLEN = struct.Struct(">I")

#: Largest frame accepted (prefix excluded), in bytes.
MAX_FRAME_BYTES = 256 * 1024 * 1024
#: Largest JSON header accepted, in bytes (arrays and bytes travel in buffers, not in the header).
MAX_HEADER_BYTES = 16 * 1024 * 1024
#: Largest single array, in bytes.
MAX_ARRAY_BYTES = 256 * 1024 * 1024
#: Largest ``bytes`` value.
MAX_BYTES_OBJECT = 16 * 1024 * 1024
#: Deepest nesting of lists/tuples/dicts.
MAX_DEPTH = 64
#: Most nodes in one frame.
MAX_NODES = 250_000
#: Most JSON values in one header (a node is a JSON array of at most 4 values; a dict item adds a pair).
MAX_JSON_VALUES = 6 * MAX_NODES
#: Deepest nesting of JSON arrays/objects in a header (a dict level of the tree takes 3).
MAX_JSON_DEPTH = 3 * MAX_DEPTH + 8
#: Most dimensions of one array.
MAX_NDIM = 32

#: Canonical dtype strings accepted on the wire (numeric and bool, little-endian).
ALLOWED_DTYPES = frozenset(
    ["|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f2", "<f4", "<f8", "<c8", "<c16"]
)


class WireError(ValueError):
    """A frame is malformed, oversized or uses a forbidden type (raised by :func:`decode`)."""


class FrameTooLarge(WireError):
    """A frame (or one value in it) exceeds a size cap."""


class NotPlainData(TypeError):
    """:func:`encode` met a value outside the data model and no ``handle`` callback was given."""


# ---------------------------------------------------------------------------------------------
# encoding


def _canonical_dtype(dtype: np.dtype) -> np.dtype | None:
    """The little-endian version of ``dtype`` if it is on the whitelist, else None."""
    if dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in "biufc":
        return None
    canon = dtype.newbyteorder("<") if dtype.byteorder == ">" else dtype
    return canon if canon.str in ALLOWED_DTYPES else None


def _float_node(x: float) -> float | str:
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


#: Built-in types that may be sent by name (e.g. ``dtype=float``).
_PY_TYPES = {t.__name__: t for t in (bool, int, float, complex)}

#: Node tag of each container type (tuple before list: a namedtuple is a tuple).
_SEQUENCE_TAGS = {tuple: "T", list: "L", frozenset: "FS", set: "ST"}


class _Encoder:
    def __init__(self, handle: Callable[[Any], Any] | None, max_bytes: int):
        self.handle = handle
        self.buffers: list = []
        self.total = 0
        self.nodes = 0
        self.max_bytes = max_bytes

    def _buffer(self, data, nbytes: int) -> int:
        self.total += nbytes
        if self.total > self.max_bytes:
            raise FrameTooLarge(f"value too large to send: more than {self.max_bytes} bytes of data")
        self.buffers.append(data)
        return len(self.buffers) - 1

    def _opaque(self, obj: Any, why: str) -> list:
        if self.handle is None:
            raise NotPlainData(f"cannot send a {type(obj).__name__} to the student kernel ({why})")
        return self.handle(obj)

    def node(self, obj: Any, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise FrameTooLarge(f"value too large to send: more than {MAX_NODES} items")
        if obj is None:
            return ["N"]
        if isinstance(obj, np.dtype) or (isinstance(obj, type) and issubclass(obj, np.generic)):
            # dtype arguments such as FullyConnectedNet(dtype=np.float64): sent by name.
            dtype = _canonical_dtype(np.dtype(obj))
            if dtype is None:
                return self._opaque(obj, f"dtype {obj} is not numeric")
            return ["DT", dtype.str, "dtype" if isinstance(obj, np.dtype) else "type"]
        if isinstance(obj, type) and obj in _PY_TYPES.values():
            return ["PT", obj.__name__]
        if isinstance(obj, np.generic):  # before float/complex: np.float64 subclasses float
            dtype = _canonical_dtype(obj.dtype)
            if dtype is None:
                return self._opaque(obj, f"numpy scalar of dtype {obj.dtype}")
            arr = np.asarray(obj).astype(dtype).reshape(1)
            return ["Z", dtype.str, self._buffer(arr.tobytes(), arr.nbytes)]
        if isinstance(obj, bool):
            return ["B", bool(obj)]
        if isinstance(obj, int):
            try:
                text = str(int(obj))
            except ValueError:  # more digits than Python converts
                return self._opaque(obj, "integer too large")
            return ["I", text]
        if isinstance(obj, float):
            return ["F", _float_node(float(obj))]
        if isinstance(obj, complex):
            return ["C", _float_node(obj.real), _float_node(obj.imag)]
        if isinstance(obj, str):
            return ["S", str(obj)]
        if isinstance(obj, (bytes, bytearray)):
            if len(obj) > MAX_BYTES_OBJECT:
                return self._opaque(obj, "bytes object too large")
            return ["Y", self._buffer(bytes(obj), len(obj))]
        if isinstance(obj, np.ndarray):
            dtype = _canonical_dtype(obj.dtype)
            if dtype is None:
                return self._opaque(obj, f"array dtype {obj.dtype} is not numeric")
            if obj.nbytes > MAX_ARRAY_BYTES or obj.ndim > MAX_NDIM:
                return self._opaque(obj, "array too large")
            arr = np.asarray(obj).astype(dtype, copy=False)
            if not arr.flags.c_contiguous:
                arr = arr.copy(order="C")
            raw = arr.reshape(-1).view(np.uint8)  # flat bytes, shares memory with arr
            return ["A", dtype.str, [int(s) for s in arr.shape], self._buffer(raw, arr.nbytes)]
        if isinstance(obj, (list, tuple, dict, set, frozenset)):
            if depth >= MAX_DEPTH:
                return self._opaque(obj, "nested too deeply")
            if isinstance(obj, dict):
                if all(isinstance(k, str) for k in obj):
                    return ["D", [[str(k), self.node(v, depth + 1)] for k, v in obj.items()]]
                return ["M", [[self.node(k, depth + 1), self.node(v, depth + 1)] for k, v in obj.items()]]
            items = [self.node(v, depth + 1) for v in obj]
            return [_SEQUENCE_TAGS[next(t for t in _SEQUENCE_TAGS if isinstance(obj, t))], items]
        return self._opaque(obj, "not plain data")


def encode(obj: Any, handle: Callable[[Any], list] | None = None,
           max_bytes: int = MAX_FRAME_BYTES) -> list[bytes | memoryview]:
    """Encode ``obj`` into a frame, returned as a list of byte chunks to send in order.

    Parameters
    ----------
    obj : Any
        Value in the data model described in the module docstring.
    handle : callable, optional
        Called with each value outside the data model; must return the node to
        emit (``["H", id, type_name]``).  Without it such values raise
        :class:`NotPlainData`.
    max_bytes : int
        Cap on the total buffer bytes; larger values raise :class:`FrameTooLarge`.

    Returns
    -------
    list of bytes-like
        ``b"".join(chunks)`` is the complete frame, prefix included.
    """
    enc = _Encoder(handle, max_bytes)
    tree = enc.node(obj, 0)
    sizes = [memoryview(b).nbytes for b in enc.buffers]
    header = json.dumps({"tree": tree, "buffers": sizes}, allow_nan=False,
                        separators=(",", ":")).encode("utf-8")
    if len(header) > MAX_HEADER_BYTES:
        raise FrameTooLarge(f"value too large to send: header of {len(header)} bytes")
    body_len = _HLEN.size + len(header) + sum(sizes)
    if body_len > max_bytes:
        raise FrameTooLarge(f"value too large to send: {body_len} bytes")
    return [_PREFIX.pack(MAGIC, body_len), _HLEN.pack(len(header)), header, *enc.buffers]


# ---------------------------------------------------------------------------------------------
# decoding


def valid_unicode(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (a pair stays the character it encodes).

    JSON lets a peer send ``"\\udc80"``; Python keeps it as a lone surrogate, which no UTF-8 file,
    terminal or database accepts. Every string decoded from a frame goes through this function.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def valid_unicode_tree(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, tuples, strings...) with :func:`valid_unicode` applied to every string."""
    if isinstance(value, str):
        return valid_unicode(value)
    if isinstance(value, dict):
        return {valid_unicode_tree(k): valid_unicode_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(valid_unicode_tree(v) for v in value)
    return value


#: A JSON string literal (escapes included), matched without backtracking.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
#: Every byte but the four brackets (deleted to measure nesting depth).
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


def _check_json_shape(raw: bytes) -> None:
    """Bound the JSON values and the nesting depth of ``raw`` before any of it is parsed.

    Strings are blanked first, so brackets and commas inside them do not count; every other
    value starts the text, follows ``[``, ``{``, ``,`` or ``:``, which bounds their number.
    """
    skeleton = _JSON_STRING.sub(b'""', raw)
    values = 1 + sum(skeleton.count(c) for c in (b",", b":", b"[", b"{"))
    if values > MAX_JSON_VALUES:
        raise FrameTooLarge(f"header holds more than {MAX_JSON_VALUES} values")
    brackets = np.frombuffer(skeleton.translate(None, _NOT_BRACKETS), dtype=np.uint8)
    if brackets.size:
        steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1).astype(np.int32)
        if int(np.cumsum(steps).max()) > MAX_JSON_DEPTH:
            raise WireError("header nested too deeply")


def _reject_constant(name: str) -> None:
    raise WireError(f"invalid JSON constant {name}")


def _float_value(v: Any) -> float:
    if isinstance(v, bool):
        raise WireError("bad float node")
    if isinstance(v, (int, float)):
        return float(v)
    if v in ("nan", "inf", "-inf"):
        return float(v)
    raise WireError("bad float node")


_TAG_NAMES = {"N": "None", "B": "bool", "I": "int", "F": "float", "C": "complex", "S": "str", "Y": "bytes",
              "A": "array", "Z": "scalar", "L": "list", "T": "tuple", "D": "dict", "M": "dict", "ST": "set",
              "FS": "frozenset", "H": "handle"}


def _hashable(value: Any, what: str) -> Any:
    """``value`` if it can be a set element or dict key, else :class:`WireError`."""
    try:
        hash(value)
    except TypeError:
        raise WireError(f"unhashable {what}") from None
    return value


class _Decoder:
    def __init__(self, buffers: list[memoryview], make_handle: Callable[[int, str], Any] | None):
        self.buffers = buffers
        self.used = [False] * len(buffers)
        self.make_handle = make_handle
        self.nodes = 0

    def _take(self, k: Any) -> memoryview:
        if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k < len(self.buffers):
            raise WireError("bad buffer index")
        if self.used[k]:
            raise WireError("buffer used twice")
        self.used[k] = True
        return self.buffers[k]

    @staticmethod
    def _dtype(s: Any) -> np.dtype:
        if not isinstance(s, str) or s not in ALLOWED_DTYPES:
            raise WireError(f"dtype not allowed: {str(s)[:40]!r}")
        return np.dtype(s)

    def node(self, n: Any, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise FrameTooLarge("too many items")
        if depth > MAX_DEPTH:
            raise WireError("nested too deeply")
        if not isinstance(n, list) or not n or not isinstance(n[0], str):
            raise WireError("bad node")
        tag, rest = n[0], n[1:]
        if tag == "N" and not rest:
            return None
        if tag == "DT" and len(rest) == 2 and rest[1] in ("dtype", "type"):
            dtype = self._dtype(rest[0])
            return dtype if rest[1] == "dtype" else dtype.type
        if tag == "PT" and len(rest) == 1 and rest[0] in _PY_TYPES:
            return _PY_TYPES[rest[0]]
        if tag == "B" and len(rest) == 1 and isinstance(rest[0], bool):
            return rest[0]
        if tag == "I" and len(rest) == 1 and isinstance(rest[0], str):
            text = rest[0]
            if not 0 < len(text) <= 4300 or not text.lstrip("-").isdigit() or not text.isascii():
                raise WireError("bad int node")
            return int(text)
        if tag == "F" and len(rest) == 1:
            return _float_value(rest[0])
        if tag == "C" and len(rest) == 2:
            return complex(_float_value(rest[0]), _float_value(rest[1]))
        if tag == "S" and len(rest) == 1 and isinstance(rest[0], str):
            return valid_unicode(rest[0])
        if tag == "Y" and len(rest) == 1:
            buf = self._take(rest[0])
            if buf.nbytes > MAX_BYTES_OBJECT:
                raise FrameTooLarge("bytes value too large")
            return bytes(buf)
        if tag == "A" and len(rest) == 3:
            dtype = self._dtype(rest[0])
            shape = rest[1]
            if (not isinstance(shape, list) or len(shape) > MAX_NDIM
                    or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= 2**40
                               for s in shape)):
                raise WireError("bad array shape")
            buf = self._take(rest[2])
            count = math.prod(shape)
            if count * dtype.itemsize != buf.nbytes:
                raise WireError("array buffer length does not match its shape and dtype")
            if buf.nbytes > MAX_ARRAY_BYTES:
                raise FrameTooLarge("array too large")
            return np.frombuffer(buf, dtype=dtype, count=count).reshape(shape).astype(dtype.newbyteorder("="))
        if tag == "Z" and len(rest) == 2:
            dtype = self._dtype(rest[0])
            buf = self._take(rest[1])
            if buf.nbytes != dtype.itemsize:
                raise WireError("scalar buffer length does not match its dtype")
            return np.frombuffer(buf, dtype=dtype, count=1).astype(dtype.newbyteorder("="))[0]
        if tag in ("L", "T") and len(rest) == 1 and isinstance(rest[0], list):
            items = [self.node(v, depth + 1) for v in rest[0]]
            return tuple(items) if tag == "T" else items
        if tag == "D" and len(rest) == 1 and isinstance(rest[0], list):
            out: dict[str, Any] = {}
            for pair in rest[0]:
                if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[0], str):
                    raise WireError("bad dict item")
                key = valid_unicode(pair[0])
                if key in out:
                    raise WireError("duplicate dict key")
                out[key] = self.node(pair[1], depth + 1)
            return out
        if tag in ("ST", "FS") and len(rest) == 1 and isinstance(rest[0], list):
            items = [_hashable(self.node(v, depth + 1), _TAG_NAMES[tag] + " element") for v in rest[0]]
            return set(items) if tag == "ST" else frozenset(items)
        if tag == "M" and len(rest) == 1 and isinstance(rest[0], list):
            mapping: dict[Any, Any] = {}
            for pair in rest[0]:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise WireError("bad dict item")
                key = _hashable(self.node(pair[0], depth + 1), "dict key")
                if key in mapping:
                    raise WireError("duplicate dict key")
                mapping[key] = self.node(pair[1], depth + 1)
            return mapping
        if tag == "H" and len(rest) in (1, 2):
            hid = rest[0]
            tname = rest[1] if len(rest) == 2 else "object"
            if (not isinstance(hid, int) or isinstance(hid, bool) or not 0 <= hid < 2**62
                    or not isinstance(tname, str)):
                raise WireError("bad handle node")
            if self.make_handle is None:
                raise WireError("unexpected handle")
            return self.make_handle(hid, valid_unicode(tname[:200]))
        if tag in _TAG_NAMES:
            raise WireError(f"bad {_TAG_NAMES[tag]} node")
        raise WireError(f"bad node tag {tag[:10]!r}")


def decode(body: bytes | bytearray | memoryview, make_handle: Callable[[int, str], Any] | None = None) -> Any:
    """Decode and validate a frame body (the bytes after the 12-byte prefix).

    Parameters
    ----------
    body : bytes-like
        The frame body as returned by :func:`recv_frame`.
    make_handle : callable, optional
        ``make_handle(id, type_name)`` builds the value for a handle node; without
        it handle nodes are rejected.

    Returns
    -------
    Any
        The decoded value; arrays are fresh, writable, native-endian copies.

    Raises
    ------
    WireError
        On any malformed, inconsistent or oversized content.
    """
    view = memoryview(body).cast("B")
    if view.nbytes > MAX_FRAME_BYTES:
        raise FrameTooLarge("frame too large")
    if view.nbytes < _HLEN.size:
        raise WireError("frame too short")
    (hlen,) = _HLEN.unpack_from(view, 0)
    if hlen > MAX_HEADER_BYTES or _HLEN.size + hlen > view.nbytes:
        raise WireError("bad header length")
    raw = bytes(view[_HLEN.size:_HLEN.size + hlen])
    _check_json_shape(raw)
    try:
        header = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except WireError:
        raise
    except (ValueError, RecursionError) as exc:
        raise WireError(f"header is not valid JSON: {type(exc).__name__}") from None
    if not isinstance(header, dict) or set(header) != {"tree", "buffers"}:
        raise WireError("bad header")
    sizes = header["buffers"]
    if not isinstance(sizes, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in sizes):
        raise WireError("bad buffer table")
    offset = _HLEN.size + hlen
    if offset + sum(sizes) != view.nbytes:
        raise WireError("buffer lengths do not add up to the frame length")
    buffers = []
    for s in sizes:
        buffers.append(view[offset:offset + s])
        offset += s
    dec = _Decoder(buffers, make_handle)
    try:
        value = dec.node(header["tree"], 0)
    except RecursionError:
        raise WireError("nested too deeply") from None
    if not all(dec.used):
        raise WireError("unused buffer in frame")
    return value


# ---------------------------------------------------------------------------------------------
# socket framing


def send_frame(sock: socket.socket, chunks: list[bytes | memoryview], deadline: float | None = None) -> None:
    """Send the chunks of an encoded frame; ``deadline`` is a :func:`time.monotonic` value.

    Raises ``TimeoutError`` when the deadline passes and ``OSError`` when the peer is gone.
    """
    for chunk in chunks:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("send deadline passed")
            sock.settimeout(remaining)
        else:
            sock.settimeout(None)
        sock.sendall(chunk)


def _recv_into(sock: socket.socket, view: memoryview, deadline: float | None) -> None:
    n = view.nbytes
    got = 0
    while got < n:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("receive deadline passed")
            sock.settimeout(remaining)
        else:
            sock.settimeout(None)
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise EOFError("connection closed")
        got += k


def _recv_exact(sock: socket.socket, n: int, deadline: float | None) -> bytearray:
    buf = bytearray(n)
    _recv_into(sock, memoryview(buf), deadline)
    return buf


def recv_frame(sock: socket.socket, deadline: float | None = None,
               max_bytes: int = MAX_FRAME_BYTES) -> bytearray:
    """Receive one frame and return its body (pass it to :func:`decode`).

    Raises ``EOFError`` if the peer closed the connection, ``TimeoutError`` when the
    deadline passes, :class:`WireError` on a bad magic and :class:`FrameTooLarge` when
    the announced frame length exceeds ``max_bytes`` (nothing beyond the prefix is read
    then) or the announced header length exceeds :data:`MAX_HEADER_BYTES` or the frame
    (nothing beyond the header length is read then).
    """
    prefix = _recv_exact(sock, _PREFIX.size, deadline)
    magic, length = _PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise WireError("bad frame magic")
    if length > max_bytes:
        raise FrameTooLarge(f"frame of {length} bytes exceeds the cap of {max_bytes}")
    if length < _HLEN.size:
        raise WireError("frame too short")
    body = bytearray(length)
    view = memoryview(body)
    _recv_into(sock, view[:_HLEN.size], deadline)
    (hlen,) = _HLEN.unpack_from(body, 0)
    if hlen > min(MAX_HEADER_BYTES, length - _HLEN.size):
        raise FrameTooLarge(f"header of {hlen} bytes exceeds the cap of {MAX_HEADER_BYTES} or the frame")
    _recv_into(sock, view[_HLEN.size:], deadline)
    return body
