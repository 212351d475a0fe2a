"""Round trips and strict rejection of the pickle-free wire format (autograder.kernel.wire)."""

from __future__ import annotations

import json
import math
import socket
import struct
import time

import numpy as np
import pytest

from autograder.kernel import wire


def roundtrip(obj, handle=None, make_handle=None):
    frame = b"".join(bytes(memoryview(c).cast("B")) for c in wire.encode(obj, handle=handle))
    return wire.decode(frame[12:], make_handle=make_handle)


def raw_frame(header: dict, buffers: list[bytes] = ()) -> bytes:
    """A frame body built by hand (as a hostile kernel could)."""
    h = json.dumps(header).encode()
    return struct.pack(">I", len(h)) + h + b"".join(buffers)


@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 2**200, 1.5, -0.0, 1e308, "", "héllo\n\x00", b"\x00\xffbytes",
    3 + 4j, [], (), {}, [1, [2, (3, {"a": None})]], {"nested": {"deep": [1.0, "x", (True,)]}},
    set(), {1, "two", (3, 4.5), None}, frozenset(), frozenset({b"x", 2j}), {frozenset({1}), 7},
    {1: "int key", (2, "b"): [3], None: {"x": 1.5}, 2.5: frozenset({1})}, {"a": {4: {5, 6}}},
])
def test_plain_values_round_trip(value):
    out = roundtrip(value)
    assert out == value
    assert type(out) is type(value)


def test_special_floats_round_trip():
    out = roundtrip([math.nan, math.inf, -math.inf, complex(math.nan, -math.inf)])
    assert math.isnan(out[0]) and out[1] == math.inf and out[2] == -math.inf
    assert math.isnan(out[3].real) and out[3].imag == -math.inf


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64",
                                   "uint64", "float16", "float32", "float64", "complex64", "complex128"])
def test_arrays_of_every_allowed_dtype(dtype):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((3, 4, 2)) * 50).astype(dtype)
    out = roundtrip({"a": a})["a"]
    assert out.dtype == a.dtype and out.shape == a.shape
    np.testing.assert_array_equal(out, a)
    assert out.flags.writeable and out.flags.c_contiguous


def test_array_layouts_and_shapes():
    rng = np.random.default_rng(1)
    base = rng.standard_normal((6, 8))
    cases = [base.T, base[::2, 1::3], base.astype(">f8"), np.zeros((0, 5)), np.array(3.25), np.zeros((1,) * 10)]
    for a in cases:
        out = roundtrip(a)
        assert out.shape == a.shape and out.dtype == a.dtype.newbyteorder("=")
        np.testing.assert_array_equal(out, a)


def test_decoded_array_is_a_copy():
    a = np.arange(4.0)
    frame = b"".join(bytes(memoryview(c).cast("B")) for c in wire.encode(a))
    out = wire.decode(frame[12:])
    out[0] = 99
    assert a[0] == 0


def test_numpy_scalars_keep_their_dtype():
    for s in [np.float64(1.25), np.float32(2.5), np.int64(-3), np.bool_(True), np.complex128(1 - 2j)]:
        out = roundtrip(s)
        assert isinstance(out, np.generic) and out.dtype == s.dtype and out == s


def test_non_plain_values_need_a_handle_callback():
    for bad in [object(), np.array(["a", "b"]), np.array([1, None], dtype=object), {1: object()},
                np.zeros(2, dtype=[("a", "f8")]), np.zeros(2, dtype="M8[s]"), {1.5, object()}]:
        with pytest.raises(wire.NotPlainData):
            wire.encode(bad)


def test_sets_and_keys_keep_element_types():
    # a correct function returning a set compares equal, elementwise types included
    out = roundtrip({np.int64(3), np.float32(0.5), (1, 2)})
    assert out == {3, 0.5, (1, 2)}
    assert {type(x) for x in out} == {np.int64, np.float32, tuple}
    out = roundtrip({(0, 1): np.arange(2.0), np.int64(7): "seven"})
    np.testing.assert_array_equal(out[(0, 1)], np.arange(2.0))
    assert {type(k) for k in out} == {tuple, np.int64} and out[7] == "seven"


def test_container_subclasses_arrive_as_their_base_type():
    from collections import OrderedDict, namedtuple

    point = namedtuple("point", "x y")
    out = roundtrip([OrderedDict(b=1, a=2), point(1, 2)])
    assert type(out[0]) is dict and list(out[0]) == ["b", "a"]
    assert type(out[1]) is tuple and out[1] == (1, 2)


def test_handles_round_trip_through_callbacks():
    registry = {}

    def handle(obj):
        registry[id(obj)] = obj
        return ["H", id(obj) % 2**61, type(obj).__name__]

    obj = object()
    out = roundtrip({"x": [1, obj]}, handle=handle, make_handle=lambda hid, t: ("handle", hid, t))
    assert out == {"x": [1, ("handle", id(obj) % 2**61, "object")]}


def test_cyclic_value_is_not_an_infinite_loop():
    cyc: list = []
    cyc.append(cyc)
    frame = wire.encode(cyc, handle=lambda o: ["H", 1, "list"])
    out = wire.decode(b"".join(bytes(memoryview(c).cast("B")) for c in frame)[12:],
                      make_handle=lambda hid, t: "H")
    depth = 0
    while isinstance(out, list):
        out, depth = out[0], depth + 1
    assert out == "H" and depth == wire.MAX_DEPTH


def test_encode_caps_total_size():
    with pytest.raises(wire.FrameTooLarge):
        wire.encode(np.zeros(1000), max_bytes=4000)


# ----------------------------------------------------------------------------- hostile frames

GOOD_ARRAY = np.arange(6, dtype="<f8").tobytes()


@pytest.mark.parametrize("header,buffers,why", [
    ({"tree": ["A", "|O", [6], 0], "buffers": [48]}, [GOOD_ARRAY], "dtype"),
    ({"tree": ["A", "<U4", [3], 0], "buffers": [48]}, [GOOD_ARRAY], "dtype"),
    ({"tree": ["A", ">f8", [6], 0], "buffers": [48]}, [GOOD_ARRAY], "dtype"),
    ({"tree": ["A", "<f8", [7], 0], "buffers": [48]}, [GOOD_ARRAY], "length"),
    ({"tree": ["A", "<f8", [-6], 0], "buffers": [48]}, [GOOD_ARRAY], "shape"),
    ({"tree": ["A", "<f8", [2, 3.0], 0], "buffers": [48]}, [GOOD_ARRAY], "shape"),
    ({"tree": ["A", "<f8", [6], 1], "buffers": [48]}, [GOOD_ARRAY], "index"),
    ({"tree": ["L", [["A", "<f8", [6], 0], ["A", "<f8", [6], 0]]], "buffers": [48]}, [GOOD_ARRAY], "twice"),
    ({"tree": ["N"], "buffers": [48]}, [GOOD_ARRAY], "unused"),
    ({"tree": ["N"], "buffers": [40]}, [GOOD_ARRAY], "add up"),
    ({"tree": ["I", 5], "buffers": []}, [], "int"),
    ({"tree": ["I", "1e5"], "buffers": []}, [], "int"),
    ({"tree": ["B", 1], "buffers": []}, [], "node"),
    ({"tree": ["D", [[1, ["N"]]]], "buffers": []}, [], "dict"),
    ({"tree": ["D", [["a", ["N"]], ["a", ["N"]]]], "buffers": []}, [], "duplicate"),
    ({"tree": ["X"], "buffers": []}, [], "tag"),
    ({"tree": ["H", 3, "Foo"], "buffers": []}, [], "handle"),
    ({"tree": "N", "buffers": []}, [], "node"),
    ({"tree": ["N"]}, [], "header"),
    ({"tree": ["F", "1e400"], "buffers": []}, [], "float"),
    ({"tree": ["ST", [["L", []]]], "buffers": []}, [], "unhashable set element"),
    ({"tree": ["FS", [["D", []]]], "buffers": []}, [], "unhashable frozenset element"),
    ({"tree": ["ST", "x"], "buffers": []}, [], "bad set node"),
    ({"tree": ["M", [[["L", []], ["N"]]]], "buffers": []}, [], "unhashable dict key"),
    ({"tree": ["M", [[["T", [["A", "<f8", [6], 0]]], ["N"]]]], "buffers": [48]}, [GOOD_ARRAY], "unhashable"),
    ({"tree": ["M", [[["I", "1"], ["N"]], [["F", 1.0], ["N"]]]], "buffers": []}, [], "duplicate"),
    ({"tree": ["M", [[["I", "1"]]]], "buffers": []}, [], "dict item"),
])
def test_decode_rejects_malformed_frames(header, buffers, why):
    with pytest.raises(wire.WireError, match=why):
        wire.decode(raw_frame(header, buffers))


def test_decode_rejects_deep_nesting_and_json_constants():
    deep: list = ["N"]
    for _ in range(wire.MAX_DEPTH + 5):
        deep = ["L", [deep]]
    with pytest.raises(wire.WireError):
        wire.decode(raw_frame({"tree": deep, "buffers": []}))
    # a header nested far beyond Python's recursion limit
    body = b'{"tree": ' + b"[" * 100_000 + b"]" * 100_000 + b', "buffers": []}'
    with pytest.raises(wire.WireError):
        wire.decode(struct.pack(">I", len(body)) + body)
    nan_header = b'{"tree": ["F", NaN], "buffers": []}'
    with pytest.raises(wire.WireError):
        wire.decode(struct.pack(">I", len(nan_header)) + nan_header)


def test_decode_rejects_truncated_and_garbage():
    good = b"".join(bytes(memoryview(c).cast("B")) for c in wire.encode({"a": np.arange(3.0)}))[12:]
    for bad in [b"", b"\x00\x00", good[:-1], good + b"\x00", struct.pack(">I", 10**9) + good[4:],
                struct.pack(">I", 3) + b"\xff\xfe\xfd"]:
        with pytest.raises(wire.WireError):
            wire.decode(bad)


def test_socket_framing_and_caps():
    a, b = socket.socketpair()
    with a, b:
        wire.send_frame(a, wire.encode({"x": np.ones((2, 2))}))
        body = wire.recv_frame(b, time.monotonic() + 5)
        np.testing.assert_array_equal(wire.decode(body)["x"], np.ones((2, 2)))
        # an oversized announced length is refused before reading the body
        a.sendall(struct.pack(">4sQ", wire.MAGIC, 2**40))
        with pytest.raises(wire.FrameTooLarge):
            wire.recv_frame(b, time.monotonic() + 5)
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b"EVIL" + bytes(8))
        with pytest.raises(wire.WireError, match="magic"):
            wire.recv_frame(b, time.monotonic() + 5)
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            wire.recv_frame(b, time.monotonic() + 0.3)
        assert time.monotonic() - t0 < 3
    a, b = socket.socketpair()
    with b:
        a.sendall(struct.pack(">4sQ", wire.MAGIC, 100) + struct.pack(">I", 10) + b"short")
        a.close()
        with pytest.raises(EOFError):
            wire.recv_frame(b, time.monotonic() + 5)


@pytest.mark.parametrize("value", [np.float64, np.float32, np.int64, np.dtype("float32"), np.dtype("<f8"), float, int])
def test_dtypes_and_scalar_types_round_trip_by_name(value):
    # FullyConnectedNet(..., dtype=np.float64) passes a type, not data: it travels by name.
    out = roundtrip({"dtype": value})["dtype"]
    assert out is value or out == value
    assert type(out) is type(value)


def test_non_numeric_dtype_is_not_sent_by_name():
    with pytest.raises(wire.NotPlainData):
        roundtrip(np.dtype("O"))


# ----------------------------------------------------------------------------- hostile text and sizes

def test_lone_surrogates_arrive_as_replacement_characters():
    """A peer may send "\\udc80" (valid JSON); what is decoded encodes to UTF-8, a valid pair stays its character."""
    header = b'{"tree": ["D", [["k\\udc80", ["L", [["S", "a\\udc80b"], ["S", "\\ud83d\\ude00"], ["H", 1, "T\\ud800"]]]]]], "buffers": []}'
    value = wire.decode(struct.pack(">I", len(header)) + header, make_handle=lambda hid, name: name)
    assert value == {"k\ufffd": ["a\ufffdb", "\U0001f600", "T\ufffd"]}
    for text in ["k\ufffd", *value["k\ufffd"]]:
        text.encode("utf-8")
    assert roundtrip("x\udc80") == "x\ufffd"  # what the kernel's encoder sends, as the grader gets it
    assert wire.valid_unicode_tree({"a\udc80": ["x\udc80", ("y", 1.5)]}) == {"a\ufffd": ["x\ufffd", ("y", 1.5)]}


def test_header_values_and_depth_are_bounded_before_parsing():
    import tracemalloc

    # many empty lists: refused before json.loads builds any of them (each "[]," would become a
    # 56-byte list object: ~20x the text, the ratio of the measured 60 MB -> 1.4 GB attack)
    n = wire.MAX_JSON_VALUES // 2 + 10
    header = b'{"tree": ["L", [' + b",".join([b"[]"] * n) + b']], "buffers": []}'
    body = struct.pack(">I", len(header)) + header
    tracemalloc.start()
    try:
        with pytest.raises(wire.FrameTooLarge, match="values"):
            wire.decode(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * len(body), (peak, len(body))
    # brackets and commas inside strings are text, not structure
    text = "[[,{:" * 400_000
    assert roundtrip(text) == text
    # deep nesting: refused by the scan (not by Python's recursion limit)
    deep = b"[" * (wire.MAX_JSON_DEPTH + 1) + b"]" * (wire.MAX_JSON_DEPTH + 1)
    body = b'{"tree": ' + deep + b', "buffers": []}'
    with pytest.raises(wire.WireError, match="nested too deeply"):
        wire.decode(struct.pack(">I", len(body)) + body)
    # the deepest tree the encoder produces (dicts, MAX_DEPTH levels) is within the JSON depth cap
    tree: object = 1
    for _ in range(wire.MAX_DEPTH - 1):
        tree = {"k": tree}
    assert roundtrip(tree) == tree


def test_a_header_at_the_caps_costs_a_bounded_multiple_of_its_size():
    """The measured attack: a 60 MB header cost the grader 1.4 GB before it was rejected. Now the worst header
    that passes every cap ("[]" values, the most objects per byte) is parsed within a fixed budget."""
    import tracemalloc

    n = wire.MAX_JSON_VALUES // 2 - 10  # "[]," counts twice: an opening bracket and a comma
    body = b'{"tree": ["L", [' + b",".join([b"[]"] * n) + b']], "buffers": []}'
    raw = struct.pack(">I", len(body)) + body
    tracemalloc.start()
    try:
        with pytest.raises(wire.WireError):
            wire.decode(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200 * 2**20, f"{peak / 2**20:.0f} MiB for a header of {len(body) / 2**20:.1f} MiB"


def test_socket_refuses_an_oversized_header_before_reading_it():
    """The header length is checked as soon as its 4 bytes arrive: the peer's 60 MB header is never read."""
    a, b = socket.socketpair()
    with a, b:
        hlen = 60 * 2**20
        a.sendall(struct.pack(">4sQ", wire.MAGIC, hlen + 4) + struct.pack(">I", hlen) + b"[" * 4096)
        with pytest.raises(wire.FrameTooLarge, match="header"):
            wire.recv_frame(b, time.monotonic() + 5)
        # a header length beyond the frame's own length
        a2, b2 = socket.socketpair()
        with a2, b2:
            a2.sendall(struct.pack(">4sQ", wire.MAGIC, 10) + struct.pack(">I", 100) + b"123456")
            with pytest.raises(wire.FrameTooLarge):
                wire.recv_frame(b2, time.monotonic() + 5)
