"""Export a training checkpoint as the streaming ONNX model the plugin runs.

    python -m crn_train.export --ckpt checkpoints/small.pt --out ../assets/crn.onnx [--int8 ../assets/crn-int8.onnx]

`--int8` also writes a dynamically quantised copy (onnxruntime.quantization: int8 weights for the LSTM
and the convolutions, activations quantised per call; the transposed convolutions stay fp32, ORT has no
integer kernel for them), with the same inputs, outputs and metadata.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from .model import CRN, CRNConfig
from .stream import export_onnx


def load_checkpoint(path: str | Path) -> tuple[CRN, dict]:
    ck = torch.load(path, map_location="cpu", weights_only=False)
    model = CRN(CRNConfig.from_dict(ck["config"]))
    model.load_state_dict(ck["model"])
    return model.eval(), ck.get("state", {})


def quantize_int8(src: str | Path, dst: str | Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=["LSTM", "Conv", "MatMul"])
    m = onnx.load(str(dst))  # quantize_dynamic keeps metadata_props; record what was done to the weights
    p = m.metadata_props.add()
    p.key, p.value = "quantization", "int8 dynamic (LSTM, Conv)"
    onnx.save(m, str(dst))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", default="crn")
    ap.add_argument("--int8", help="also write an int8-quantised copy here")
    args = ap.parse_args(argv)
    model, state = load_checkpoint(args.ckpt)
    meta = {"name": args.name, "training_steps": str(state.get("step", 0)),
            "training_audio_hours": f"{state.get('audio_seconds', 0) / 3600:.1f}"}
    s = export_onnx(model, args.out, meta)
    print(f"{args.out}: {model.param_count()} parameters, {model.macs_per_frame()} MACs/frame, "
          f"state {s.state_size} floats")
    if args.int8:
        quantize_int8(args.out, args.int8)
        print(f"{args.int8}: int8 copy")


if __name__ == "__main__":
    main()
