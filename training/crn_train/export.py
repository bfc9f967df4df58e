"""Export a training checkpoint as the streaming ONNX model the plugin runs.

    python -m crn_train.export --ckpt checkpoints/small.pt --out ../assets/crn.onnx
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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", default="crn")
    args = ap.parse_args(argv)
    model, state = load_checkpoint(args.ckpt)
    meta = {"name": args.name, "training_steps": str(state.get("step", 0)),
            "training_audio_hours": f"{state.get('audio_seconds', 0) / 3600:.1f}"}
    s = export_onnx(model, args.out, meta)
    print(f"{args.out}: {model.param_count()} parameters, {model.macs_per_frame()} MACs/frame, "
          f"state {s.state_size} floats")


if __name__ == "__main__":
    main()
