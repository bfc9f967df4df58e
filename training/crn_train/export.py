"""Export a training checkpoint as the streaming ONNX model the plugin runs.

    python -m crn_train.export --ckpt checkpoints/latest.pt --out runs/candidate.onnx [--int8 runs/candidate-int8.onnx]

A checkpoint with a moving average of the weights (`train.py --ema`) exports the average unless
`--weights model` asks for the last step's weights.

`--int8` also writes a dynamically quantised copy (onnxruntime.quantization: int8 weights for the LSTM,
activations quantised per call), with the same inputs, outputs and metadata. Only the LSTM: it holds
2.4 of the 2.9 MB of weights that bound the frame time, and quantising the convolutions too was slower
(177 against 134 us per frame, BENCHMARKS.md). Measured on the shipped weights it
scores as the fp32 graph does (BENCHMARKS.md: every mean paired difference within 0.02 STOI points and
0.01 PESQ); it is not shipped yet (the engine's tests hold the fp32 output to 1e-4).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from .model import CRN, CRNConfig
from .stream import export_onnx


def load_checkpoint(path: str | Path, weights: str = "ema") -> tuple[CRN, dict]:
    """The net of a checkpoint: its moving average where it has one and `weights` is "ema", else its weights."""
    ck = torch.load(path, map_location="cpu", weights_only=False)
    model = CRN(CRNConfig.from_dict(ck["config"]))
    model.load_state_dict(ck["ema"] if weights == "ema" and "ema" in ck else ck["model"])
    return model.eval(), ck.get("state", {})


def quantize_int8(src: str | Path, dst: str | Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=["LSTM"])
    m = onnx.load(str(dst))  # quantize_dynamic keeps metadata_props; record what was done to the weights
    p = m.metadata_props.add()
    p.key, p.value = "quantization", "int8 dynamic (LSTM)"
    onnx.save(m, str(dst))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", default="crn")
    ap.add_argument("--int8", help="also write an int8-quantised copy here")
    ap.add_argument("--weights", choices=("ema", "model"), default="ema",
                    help="the moving average of the weights (when the checkpoint has one) or the last step's")
    args = ap.parse_args(argv)
    model, state = load_checkpoint(args.ckpt, args.weights)
    meta = {"name": args.name, "training_steps": str(state.get("step", 0)),
            "training_audio_hours": f"{state.get('audio_seconds', 0) / 3600:.1f}"}
    state_size = export_onnx(model, args.out, meta)
    print(f"{args.out}: {model.param_count()} parameters, {model.macs_per_frame()} MACs/frame, "
          f"state {state_size} floats per channel")
    if args.int8:
        quantize_int8(args.out, args.int8)
        print(f"{args.int8}: int8 copy")


if __name__ == "__main__":
    main()
