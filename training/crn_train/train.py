"""Train the CRN on the plugin's own output (`loss.py`), with batches mixed on the training device.

    python -m crn_train.train --init checkpoints/latest.pt --out runs/cpu --minutes 120      # CPU
    python -m crn_train.train --init checkpoints/latest.pt --out $OUT --minutes 8.5 --batch 256  # GPU
    python -m crn_train.train --ckpt checkpoints/latest.pt --until 20:50 ...   # one file, continued (resume.py)

The training and validation parts of the split are decoded once into int16 tensors (cached as
`<cache>/<part>.npz`) and moved to the device; `batchmix.BatchMixer` makes every batch there.
The validation set is a fixed draw of the same mixer on held-out speakers and noises. Every
`--ckpt-minutes` (and at the end) the run writes `<out>/last.pt` (with the optimiser, to resume),
`<out>/best.pt` when validation improved, and a line in `<out>/train.log`. It stops by itself after
`--minutes` of wall time, counted from the start of the process (data loading included), or at the
wall-clock time `--until`, so a device call with a hard limit always ends with its checkpoint written.

With `--ckpt FILE` there is one file instead, read at the start when it exists and overwritten at every
checkpoint (atomically: killing the run loses at most `--ckpt-minutes`): weights, optimiser, the
exponential moving average of the weights (`--ema`, what is validated and exported) and the running
totals, all fp32; its log is `FILE` with `.train.log`. SIGTERM and SIGINT write it before stopping.
"""
from __future__ import annotations

import argparse
import copy
import datetime as dt
import math
import os
import signal
import time
from pathlib import Path

import torch

from . import corpus, data, listen, validdraw
from .batchmix import Augment, BatchMixer
from .loss import LossWeights, plugin_loss
from .model import CRN, CRNConfig, PRESETS
from .threads import ThreadTuner


def lr_at(base: float, frac: float, step: int, warmup: int) -> float:
    """Linear warm-up (a fresh optimiser on trained weights), then cosine down to base/20 by the end."""
    frac = min(max(frac, 0.0), 1.0)
    w = min(1.0, (step + 1) / warmup) if warmup > 0 else 1.0
    return w * base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))


def parse_until(text: str, now: float | None = None) -> float:
    """Wall-clock deadline as a Unix time: 'HH:MM' (the next such time, local), an ISO date-time, or Unix seconds."""
    now = time.time() if now is None else now
    try:
        return float(text)
    except ValueError:
        pass
    if len(text) <= 5 and ":" in text:
        h, m = (int(v) for v in text.split(":"))
        base = dt.datetime.fromtimestamp(now)
        t = base.replace(hour=h, minute=m, second=0, microsecond=0)
        if t.timestamp() <= now:
            t += dt.timedelta(days=1)
        return t.timestamp()
    return dt.datetime.fromisoformat(text).timestamp()


class EMA:
    """Exponential moving average of the weights (and buffers): a smoother model than the last step's."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module):
        src = model.state_dict()
        for k, v in self.model.state_dict().items():
            if v.dtype.is_floating_point:
                v.mul_(self.decay).add_(src[k], alpha=1 - self.decay)
            else:
                v.copy_(src[k])


def train_mode(model: CRN, freeze_bn: bool) -> None:
    """Training mode; with `freeze_bn` the BatchNorm layers keep normalising with their running statistics.

    Fine-tuning a trained net needs that: its running statistics were gathered on other batches (the first
    run zero-padded its utterances, and silence weighs heavily in batch statistics), so batch statistics
    would train a different net from the one that is exported, and the running ones would drift to match.
    """
    model.train()
    if freeze_bn:
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()


def evaluate(model: CRN, batches, weights: LossWeights, amp: bool, freeze_bn: bool) -> dict:
    model.eval()
    sums, n = {}, 0
    with torch.no_grad():
        for x, y in batches:
            parts = {}
            # Validation on a CPU is fp32 whatever the training does, so every machine scores alike.
            with autocast(x.device, amp and x.device.type == "cuda"):
                total = plugin_loss(model, x, y, weights, parts)
            for k, v in dict(parts, loss=float(total)).items():
                sums[k] = sums.get(k, 0.0) + v * len(x)
            n += len(x)
    train_mode(model, freeze_bn)
    return {k: v / n for k, v in sums.items()}


def autocast(device: torch.device, enabled: bool):
    # bf16 for the net's matrix work (convolutions, LSTM); the FFTs and the loss stay fp32
    # (loss.plugin_loss casts back). On a CPU only where bf16 is native (`cpu_bf16_native`).
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


def cpu_bf16_native() -> bool:
    """True on CPUs that multiply bf16 in hardware (AMX or AVX512-BF16: Intel Sapphire Rapids on, AMD Zen 4 on).

    There oneDNN runs the convolutions and the LSTM in bf16 at about twice the fp32 rate (throughput.py);
    elsewhere bf16 is emulated and slower than fp32, so training stays fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split("flags", 2)[1].split("\n", 1)[0].split()
    except (OSError, IndexError):
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def cpu_layout(model: CRN, device: torch.device) -> CRN:
    """On a CPU, the convolutions' weights in channels-last layout, so oneDNN runs them without reordering
    every activation to its blocked layout and back (forward and backward about 1.5x faster; throughput.py).
    A GPU keeps the layout it has. The weights' values, and so checkpoints and exports, do not change."""
    return model.to(memory_format=torch.channels_last) if device.type == "cpu" else model


def use_amp(requested: bool, device: torch.device) -> bool:
    """Whether this run trains under bf16 autocast: asked for, and the device does bf16 natively."""
    return requested and (device.type == "cuda" or (device.type == "cpu" and cpu_bf16_native()))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="data root (default: $CRN_DATA)")
    ap.add_argument("--out", default="runs/small")
    ap.add_argument("--preset", default="small", choices=sorted(PRESETS))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=4.0, help="crop length of each item")
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--warmup", type=int, default=200, help="steps of linear LR warm-up on a fresh optimiser")
    ap.add_argument("--minutes", type=float, default=60.0, help="stop after this much wall time, all included")
    ap.add_argument("--until", help="stop at this wall-clock time instead ('HH:MM', ISO date-time or Unix seconds)")
    ap.add_argument("--ckpt", help="one checkpoint file, continued and overwritten (replaces --out's best/last)")
    ap.add_argument("--ema", type=float, default=0.999, help="decay per step of the weights' moving average")
    ap.add_argument("--best", help="where to write the best checkpoint's weights (default: <out>/best.pt; "
                                   "none with --ckpt)")
    ap.add_argument("--schedule", choices=("cosine", "constant"), default="cosine",
                    help="LR over the run: cosine to lr/20 by its end, or constant (continued training)")
    ap.add_argument("--threads", default="auto",
                    help="torch threads (CPU training); auto: 1 or all cores, whichever trains faster now (threads.py)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True,
                    help="bf16 autocast for the net on CUDA, and on CPUs with native bf16 (AMX / AVX512-BF16)")
    ap.add_argument("--p-babble", type=float, default=Augment.p_babble,
                    help="share of mixtures whose noise is babble (the gate's weakest condition)")
    ap.add_argument("--loss", default="", help="loss weights, e.g. 'mag=0.7,cplx=0.3,raw=0.1,over=2'")
    ap.add_argument("--ckpt-minutes", type=float, default=5.0)
    ap.add_argument("--valid-items", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", help="folder for the decoded corpus (default: <out>/../cache)")
    ap.add_argument("--decoders", type=int, default=None, help="processes decoding audio (default: all cores)")
    ap.add_argument("--init", help="start from this checkpoint's weights when out/last.pt is missing")
    ap.add_argument("--bn", choices=("auto", "frozen", "batch"), default="auto",
                    help="BatchNorm in training: running statistics (frozen) or batch statistics; auto: frozen "
                         "when starting from a checkpoint")
    args = ap.parse_args(argv)
    t_start = time.time()
    t_end = parse_until(args.until, t_start) if args.until else t_start + args.minutes * 60

    cores = len(os.sched_getaffinity(0))
    tuner = ThreadTuner((1, cores)) if args.threads == "auto" and cores > 1 else None
    torch.set_num_threads(cores if args.threads == "auto" else int(args.threads))
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    single = Path(args.ckpt) if args.ckpt else None
    out = single.parent if single else Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log_path = single.with_suffix(".train.log") if single else out / "train.log"
    root = data.data_root(args.data)
    cache = Path(args.cache) if args.cache else out.parent / "cache"
    train_c = corpus.cached(root, "train", cache, args.decoders)
    valid_c = corpus.cached(root, "valid", cache, args.decoders)
    aug = Augment(seconds=args.seconds, p_babble=args.p_babble)
    mixer = BatchMixer(train_c, aug, seed=args.seed, device=device)
    weights = LossWeights.parse(args.loss)
    valid, valid_fp = validdraw.validation_set(valid_c, args.valid_items, device)
    # The listening subset: the first mixtures of the fixed validation draw, scored as the plugin outputs them.
    listen_x = torch.cat([x for x, _ in valid])[:listen.SUBSET]
    listen_y = torch.cat([y for _, y in valid])[:listen.SUBSET]
    listening = listen.available()
    log(log_path, f"data ready in {time.time() - t_start:.0f} s: train {len(train_c.speech_len)} utterances "
             f"({train_c.speech_hours:.2f} h), {len(train_c.noise_len)} noises ({train_c.noise_hours:.2f} h), "
             f"{len(train_c.rir)} RIRs; valid {len(valid_c.speech_len)} utterances, {len(valid_c.noise_len)} noises; "
             f"{aug}; {weights}")
    log(log_path, f"validation draw: {args.valid_items} mixtures, {valid_fp} (same fingerprint, same mixtures)")

    cfg = PRESETS[args.preset]
    model = cpu_layout(CRN(cfg).to(device), device)
    amp = use_amp(args.amp, device) and bf16_works(model, mixer)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    state = {"step": 0, "audio_seconds": 0.0, "train_seconds": 0.0, "best_valid": float("inf")}
    fresh_opt = True
    own = single if single else out / "last.pt"  # the file this run writes with its optimiser
    resume = own if own.exists() else (Path(args.init) if args.init else None)
    ema = None
    if resume:
        ck = torch.load(resume, map_location=device, weights_only=False)
        assert CRNConfig.from_dict(ck["config"]) == cfg, "checkpoint is of another preset"
        model.load_state_dict(ck["model"])
        state.update(ck.get("state", {}))
        if "opt" in ck and (resume == own or single):
            opt.load_state_dict(ck["opt"])
            fresh_opt = False
        else:
            state["best_valid"] = float("inf")  # another objective: its old number says nothing here
            state.pop("best_heard", None)
        if args.ema > 0:
            ema = EMA(model, args.ema)
            if "ema" in ck:
                ema.model.load_state_dict(ck["ema"])
        mixer.gen.manual_seed(args.seed * 1_000_003 + state["step"])
        log(log_path, f"resumed from {resume} at step {state['step']} ({state['audio_seconds'] / 3600:.1f} h seen)"
                 + ("" if fresh_opt else ", optimiser included") + (", EMA included" if resume and "ema" in ck else ""))
    if ema is None and args.ema > 0:
        ema = EMA(model, args.ema)
    if listening:
        u = listen.unprocessed(listen_x, listen_y)
        log(log_path, f"listening subset: {len(listen_x)} validation mixtures, unprocessed PESQ "
                      f"{listen.mean(u['pesq']):.3f} STOI {listen.mean(u['stoi']):.4f}; best = PESQ up while STOI "
                      f"is not down beyond its paired 95 % interval")
    else:
        log(log_path, "pesq / pystoi not installed: the best checkpoint is chosen by validation loss alone")
    best_path = Path(args.best) if args.best else (None if single else out / "best.pt")
    audio_at_start = state["audio_seconds"]
    freeze_bn = args.bn == "frozen" or (args.bn == "auto" and resume is not None)
    log(log_path, f"BatchNorm {'frozen (running statistics)' if freeze_bn else 'on batch statistics'}")
    log(log_path, f"preset {args.preset} {cfg} params {model.param_count()} device {device} batch {args.batch} "
             f"crop {args.seconds} s threads {torch.get_num_threads()} bf16 autocast {amp}")

    def save(path: Path, with_opt: bool):
        # The file to resume holds the weights (and the EMA beside them); a best file holds what was scored.
        weights = model if with_opt or ema is None else ema.model
        path.parent.mkdir(parents=True, exist_ok=True)
        ck = {"config": cfg.to_dict(), "model": weights.state_dict(), "state": dict(state),
              "augment": aug.__dict__, "loss": weights.__dict__}
        if with_opt:
            ck["opt"] = opt.state_dict()
            if ema is not None:
                ck["ema"] = ema.model.state_dict()
        tmp = path.with_name(path.name + ".tmp")
        torch.save(ck, tmp)
        tmp.replace(path)

    def checkpoint():
        scored = ema.model if ema is not None else model
        v = evaluate(scored, valid, weights, amp, freeze_bn)
        train_mode(model, freeze_bn)
        heard = listen.scores(scored, listen_x, listen_y) if listening else None
        line = (f"step={state['step']} audio_hours={state['audio_seconds'] / 3600:.3f} "
                f"added_hours={(state['audio_seconds'] - audio_at_start) / 3600:.3f} "
                f"train_hours={state['train_seconds'] / 3600:.3f} lr={opt.param_groups[0]['lr']:.2e} "
                f"valid_loss={v['loss']:.5f} valid_mag={v['mag']:.5f} valid_cplx={v['cplx']:.5f} valid_raw={v['raw']:.5f}"
                + (f" pesq={listen.mean(heard['pesq']):.3f} stoi={listen.mean(heard['stoi']):.4f}" if heard else "")
                + (" (EMA)" if ema is not None else "")
                + (f" {tuner.describe()}" if tuner is not None and device.type == "cpu" else ""))
        improved = listen.better(heard, state.get("best_heard")) if heard else v["loss"] < state["best_valid"]
        if improved:
            state["best_valid"] = v["loss"]
            if heard:
                state["best_heard"] = heard
            if best_path:
                save(best_path, with_opt=False)
            line += " best"
        with open(log_path, "a") as f:
            f.write(line + "\n")
        print(line, flush=True)
        save(own, with_opt=True)

    stop = {"signal": None}

    def on_signal(signum, _frame):  # finish the step, write the checkpoint, then stop
        stop["signal"] = signum

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)

    # A checkpoint (validation + two saves) must fit before the deadline: keep a margin of two of them.
    t_ckpt = time.time()
    checkpoint_cost = 0.0
    first = time.time()
    checkpoint()  # validation of the starting point, so `best` is only ever an improvement
    checkpoint_cost = time.time() - first
    t_loop = time.time()
    loop_budget = max(t_end - t_loop - 2 * checkpoint_cost, 1.0)
    losses, window_audio, window_t = [], 0.0, time.time()
    train_mode(model, freeze_bn)
    step0 = state["step"]
    while True:
        t0 = time.time()
        for g in opt.param_groups:
            g["lr"] = lr_at(args.lr, (t0 - t_loop) / loop_budget if args.schedule == "cosine" else 0.0,
                            state["step"] - step0, args.warmup if fresh_opt else 0)
        if tuner is not None and device.type == "cpu":
            tuner.threads()
        loss, secs = train_step(model, opt, ema, mixer, args.batch, weights, amp)
        if tuner is not None and device.type == "cpu":
            tuner.record(secs, time.time() - t0)
        losses.append(loss)
        state["step"] += 1
        state["audio_seconds"] += secs
        window_audio += secs
        now = time.time()
        state["train_seconds"] += now - t0
        if state["step"] % 100 == 0:
            print(f"step {state['step']} loss {torch.stack(losses).mean().item():.5f} "
                  f"audio_h {state['audio_seconds'] / 3600:.2f} speed {window_audio / (now - window_t):.0f}x "
                  f"(mixing and all)", flush=True)
            losses, window_audio, window_t = [], 0.0, now
        done = now - t_loop >= loop_budget or stop["signal"] is not None
        if now - t_ckpt > args.ckpt_minutes * 60 or done:
            checkpoint()
            t_ckpt = time.time()
            if done:
                break
    log(log_path, f"stopped after {(time.time() - t_start) / 60:.1f} min at step {state['step']}"
             + (f" (signal {stop['signal']})" if stop["signal"] else "")
             + f": {(state['audio_seconds'] - audio_at_start) / 3600:.2f} h of mixtures added, "
             f"{state['audio_seconds'] / 3600:.2f} h in all; best valid {state['best_valid']:.5f}")


def train_step(model: CRN, opt, ema: "EMA | None", mixer: BatchMixer, batch: int, weights: LossWeights,
               amp: bool) -> tuple[torch.Tensor, float]:
    """One optimiser step on a fresh batch: mixing, forward, loss, backward, clipping, Adam, EMA.

    Returns the (detached) loss and the seconds of mixtures it trained on. `throughput.py` times exactly this."""
    x, y = mixer.batch(batch)
    with autocast(x.device, amp):
        loss = plugin_loss(model, x, y, weights)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    opt.step()
    if ema is not None:
        ema.update(model)
    return loss.detach(), x.shape[0] * x.shape[1] / data.SR


def bf16_works(model: CRN, mixer: BatchMixer) -> bool:
    """One forward and backward pass in bf16 autocast; False (train in fp32 / TF32) if any kernel refuses it."""
    x, y = mixer.batch(4)
    try:
        with autocast(x.device, True):
            loss = plugin_loss(model, x, y)
        loss.backward()
        ok = bool(torch.isfinite(loss))
    except RuntimeError as e:
        print(f"bf16 autocast unavailable here ({e}); training in fp32", flush=True)
        ok = False
    model.zero_grad(set_to_none=True)
    return ok


def log(path: Path, line: str):
    print(line, flush=True)
    with open(path, "a") as f:
        f.write("# " + line + "\n")


if __name__ == "__main__":
    main()
