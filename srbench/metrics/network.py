"""Network metrics (LPIPS, DISTS) over many image pairs: same-size pairs run together on the device, in
chunks of bounded memory, with deterministic kernels."""

from __future__ import annotations

MAX_BATCH_PIXELS = 1 << 22  # pixels per forward pass (memory bound)


def batched(pairs, to_tensor, forward, device: str) -> list[float]:
    """``forward(sr, hr)`` of each (sr, hr) uint8 pair, as floats; ``to_tensor(images, device)`` stacks
    same-size images into the network's input."""
    import torch

    groups: dict[tuple[int, int], list[int]] = {}
    for i, (sr, _) in enumerate(pairs):
        groups.setdefault(sr.shape[:2], []).append(i)
    dev = torch.device(device)
    out = [0.0] * len(pairs)
    for (h, w), idx in groups.items():
        step = max(1, MAX_BATCH_PIXELS // (h * w))
        for start in range(0, len(idx), step):
            chunk = idx[start:start + step]
            sr = to_tensor([pairs[i][0] for i in chunk], dev)
            hr = to_tensor([pairs[i][1] for i in chunk], dev)
            # no cuDNN autotuning or TF32: results must not depend on the GPU's mood
            with torch.no_grad(), torch.backends.cudnn.flags(
                enabled=True, benchmark=False, deterministic=True, allow_tf32=False
            ):
                values = forward(sr, hr).reshape(-1).double().cpu().numpy()
            for i, v in zip(chunk, values):
                out[i] = float(v)
    return out
