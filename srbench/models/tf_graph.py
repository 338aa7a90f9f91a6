"""Read a TensorFlow 1 frozen graph (``GraphDef`` ``.pb``) with protobuf alone, no TensorFlow.

The message classes are built at run time from a small hand-written descriptor that declares only
the fields srbench reads (tensorflow/core/framework/{graph,node_def,attr_value,tensor,
tensor_shape}.proto, same field numbers); protobuf skips every other field. The result is a
:class:`Graph`: the nodes in file order (name, op, inputs, attributes as Python/numpy values) and
every ``Const`` as a numpy array.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from srbench.errors import SrbenchError

# tensorflow/core/framework/types.proto DataType -> numpy
DTYPES = {
    1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8, 7: np.object_,
    9: np.int64, 10: np.bool_, 17: np.uint16, 19: np.float16, 22: np.uint32, 23: np.uint64,
}


@lru_cache(maxsize=1)
def _graphdef_class():
    """``GraphDef`` message class from a private descriptor pool (never clashes with TensorFlow's)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="srbench_tf_graph.proto", package="srbench_tf", syntax="proto3")

    def message(name, fields, parent=None, oneof=None):
        msg = (parent.nested_type if parent is not None else fdp.message_type).add(name=name)
        if oneof:
            msg.oneof_decl.add(name=oneof)
        for number, fname, ftype, label, type_name, in_oneof in fields:
            f = msg.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = type_name
            if in_oneof:
                f.oneof_index = 0
        return msg

    one, rep = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    shape = message("TensorShapeProto", [(2, "dim", F.TYPE_MESSAGE, rep, ".srbench_tf.TensorShapeProto.Dim", False),
                                         (3, "unknown_rank", F.TYPE_BOOL, one, None, False)])
    message("Dim", [(1, "size", F.TYPE_INT64, one, None, False), (2, "name", F.TYPE_STRING, one, None, False)],
            parent=shape)
    message("TensorProto", [
        (1, "dtype", F.TYPE_INT32, one, None, False),  # an enum on the wire is a varint
        (2, "tensor_shape", F.TYPE_MESSAGE, one, ".srbench_tf.TensorShapeProto", False),
        (4, "tensor_content", F.TYPE_BYTES, one, None, False),
        (5, "float_val", F.TYPE_FLOAT, rep, None, False),
        (6, "double_val", F.TYPE_DOUBLE, rep, None, False),
        (7, "int_val", F.TYPE_INT32, rep, None, False),
        (8, "string_val", F.TYPE_BYTES, rep, None, False),
        (10, "int64_val", F.TYPE_INT64, rep, None, False),
        (11, "bool_val", F.TYPE_BOOL, rep, None, False),
        (13, "half_val", F.TYPE_INT32, rep, None, False),
        (16, "uint32_val", F.TYPE_UINT32, rep, None, False),
        (17, "uint64_val", F.TYPE_UINT64, rep, None, False),
    ])
    attr = message("AttrValue", [
        (1, "list", F.TYPE_MESSAGE, one, ".srbench_tf.AttrValue.ListValue", True),
        (2, "s", F.TYPE_BYTES, one, None, True),
        (3, "i", F.TYPE_INT64, one, None, True),
        (4, "f", F.TYPE_FLOAT, one, None, True),
        (5, "b", F.TYPE_BOOL, one, None, True),
        (6, "type", F.TYPE_INT32, one, None, True),
        (7, "shape", F.TYPE_MESSAGE, one, ".srbench_tf.TensorShapeProto", True),
        (8, "tensor", F.TYPE_MESSAGE, one, ".srbench_tf.TensorProto", True),
        (9, "placeholder", F.TYPE_STRING, one, None, True),
    ], oneof="value")
    message("ListValue", [
        (2, "s", F.TYPE_BYTES, rep, None, False),
        (3, "i", F.TYPE_INT64, rep, None, False),
        (4, "f", F.TYPE_FLOAT, rep, None, False),
        (5, "b", F.TYPE_BOOL, rep, None, False),
        (6, "type", F.TYPE_INT32, rep, None, False),
        (7, "shape", F.TYPE_MESSAGE, rep, ".srbench_tf.TensorShapeProto", False),
        (8, "tensor", F.TYPE_MESSAGE, rep, ".srbench_tf.TensorProto", False),
    ], parent=attr)
    node = message("NodeDef", [
        (1, "name", F.TYPE_STRING, one, None, False),
        (2, "op", F.TYPE_STRING, one, None, False),
        (3, "input", F.TYPE_STRING, rep, None, False),
        (4, "device", F.TYPE_STRING, one, None, False),
        (5, "attr", F.TYPE_MESSAGE, rep, ".srbench_tf.NodeDef.AttrEntry", False),
    ])
    entry = message("AttrEntry", [(1, "key", F.TYPE_STRING, one, None, False),
                                  (2, "value", F.TYPE_MESSAGE, one, ".srbench_tf.AttrValue", False)], parent=node)
    entry.options.map_entry = True  # map<string, AttrValue> attr = 5
    message("GraphDef", [(1, "node", F.TYPE_MESSAGE, rep, ".srbench_tf.NodeDef", False)])

    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("srbench_tf.GraphDef"))


@dataclass(frozen=True)
class Node:
    name: str
    op: str
    inputs: tuple[str, ...]  # "name", "name:k" (output k) or "^name" (control dependency)
    attrs: dict  # attribute -> int | float | bool | str | bytes | np.dtype | tuple (shape) | np.ndarray | list


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]

    def node(self, name: str) -> Node:
        return self.by_name[name]

    @cached_property
    def by_name(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes}

    @property
    def consts(self) -> dict[str, np.ndarray]:
        """Every ``Const`` node's value, by node name."""
        return {n.name: n.attrs["value"] for n in self.nodes if n.op == "Const"}


def _shape(msg) -> tuple | None:
    if msg.unknown_rank:
        return None
    return tuple(int(d.size) for d in msg.dim)  # -1 = unknown dimension


def tensor_to_numpy(t) -> np.ndarray:
    """A ``TensorProto`` as a numpy array (``tensor_content`` bytes or the typed ``*_val`` fields)."""
    if t.dtype not in DTYPES:
        raise SrbenchError(f"TensorFlow dtype {t.dtype} is not supported by srbench's graph reader")
    dtype = np.dtype(DTYPES[t.dtype])
    shape = _shape(t.tensor_shape) or ()
    n = int(np.prod(shape, dtype=np.int64))
    if t.tensor_content:
        if dtype == np.object_:
            raise SrbenchError("string tensors stored as tensor_content are not supported")
        arr = np.frombuffer(t.tensor_content, dtype=dtype.newbyteorder("<"))
        if arr.size != n:
            raise SrbenchError(f"tensor has {arr.size} values for shape {shape}")
        return arr.reshape(shape).astype(dtype)
    if dtype == np.float16:
        vals = np.array(t.half_val, dtype=np.uint16).view(np.float16)  # raw IEEE half bits
    else:
        field = {np.float32: t.float_val, np.float64: t.double_val, np.int64: t.int64_val, np.bool_: t.bool_val,
                 np.object_: t.string_val, np.uint32: t.uint32_val, np.uint64: t.uint64_val}.get(dtype.type, t.int_val)
        vals = np.array(list(field), dtype=dtype)
    if vals.size == n:
        return vals.reshape(shape)
    if vals.size == 0:
        return np.zeros(shape, dtype=dtype)
    if vals.size < n:  # TensorFlow repeats the last value to fill the tensor
        return np.concatenate([vals, np.full(n - vals.size, vals[-1], dtype=dtype)]).reshape(shape)
    raise SrbenchError(f"tensor has {vals.size} values for shape {shape}")


def _text(b: bytes):
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b


def _attr_value(v):
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "s":
        return _text(v.s)
    if kind in ("i", "f", "b", "placeholder"):
        return getattr(v, kind)
    if kind == "type":
        return np.dtype(DTYPES[v.type]) if v.type in DTYPES else v.type
    if kind == "shape":
        return _shape(v.shape)
    if kind == "tensor":
        return tensor_to_numpy(v.tensor)
    lst = v.list  # kind == "list": whichever repeated field is filled
    if lst.s:
        return [_text(x) for x in lst.s]
    if lst.i:
        return [int(x) for x in lst.i]
    if lst.f:
        return [float(x) for x in lst.f]
    if lst.b:
        return [bool(x) for x in lst.b]
    if lst.type:
        return [np.dtype(DTYPES[x]) if x in DTYPES else x for x in lst.type]
    if lst.shape:
        return [_shape(x) for x in lst.shape]
    if lst.tensor:
        return [tensor_to_numpy(x) for x in lst.tensor]
    return []


def parse_graph(data: bytes, what: str = "graph") -> Graph:
    """Parse serialized ``GraphDef`` bytes; a file that is not one raises :class:`SrbenchError`."""
    from google.protobuf.message import DecodeError

    msg = _graphdef_class()()
    try:
        msg.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise SrbenchError(f"{what} is not a readable TensorFlow GraphDef ({exc}); "
                           "delete it and fetch it again") from None
    nodes = []
    for nd in msg.node:
        try:
            attrs = {k: _attr_value(v) for k, v in nd.attr.items()}
        except SrbenchError as exc:
            raise SrbenchError(f"{what}: node '{nd.name}': {exc}") from None
        nodes.append(Node(nd.name, nd.op, tuple(nd.input), attrs))
    if not nodes:
        raise SrbenchError(f"{what} is not a readable TensorFlow GraphDef (no nodes); delete it and fetch it again")
    return Graph(tuple(nodes))


def read_graph(path) -> Graph:
    """Read a frozen ``.pb`` file."""
    path = Path(path)
    return parse_graph(path.read_bytes(), str(path))


__all__ = ["Graph", "Node", "parse_graph", "read_graph", "tensor_to_numpy"]
