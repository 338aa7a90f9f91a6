#!/usr/bin/env bash
# Regenerate leaderboards/ from real runs: every zoo model at every scale it supports on
# Set5, Set14, B100 and Urban100 (canonical protocol, PSNR/SSIM/LPIPS/NIQE), plus each model under
# its own paper's protocol on Set5/Set14, then the markdown, plots and the CI baseline.
# Needs the sets (SRBENCH_DATA) and weights (cache or SRBENCH_MIRROR). Several CPU hours; --resume
# makes it restartable. imdn-as is left out: it is a same-size RealSR model, not a bicubic-x4 one.
set -euo pipefail
cd "$(dirname "$0")/.."
SB="${SRBENCH_BIN:-.venv/bin/srbench}"
OUT=leaderboards/results
MODELS="bicubic fsrcnn-s fsrcnn tpsr-nogan tpsr-esrgan tpsr-d2 imdn-rtc imdn carn-m falsr-b falsr-c falsr-a"
# Small sets first, so an interrupted run still leaves complete Set5/Set14 tables.
for s in set5 set14; do
  for m in $MODELS; do
    "$SB" run --model "$m" --set "$s" --metrics psnr,ssim,lpips,niqe --out "$OUT" --resume --format csv
    "$SB" run --model "$m" --set "$s" --protocol paper --metrics psnr,ssim --out "$OUT" --resume --format csv
  done
done
for s in b100 urban100; do
  for m in $MODELS; do
    "$SB" run --model "$m" --set "$s" --metrics psnr,ssim,lpips,niqe --out "$OUT" --resume --format csv
  done
done
"$SB" leaderboard --results "$OUT" --out leaderboards
# The project's CI gate: all zoo models on Set5 (canonical protocol) against this baseline.
mkdir -p /tmp/srbench-set5 && rm -f /tmp/srbench-set5/*.json
cp "$OUT"/*__set5__*__matlab.json /tmp/srbench-set5/
"$SB" baseline --results /tmp/srbench-set5 --out leaderboards/baselines/ci-set5.json
# Side-by-side crops: the Urban100 image the lightweight-SR papers show, at x4 and x2.
"$SB" compare-visual --set urban100 --image img_092 --models bicubic,fsrcnn,tpsr-nogan,tpsr-d2,carn-m,imdn \
  --box 520,210,200,150 --scale 4 --out leaderboards/plots/compare_urban100_img_092_x4.png
"$SB" compare-visual --set urban100 --image img_092 --models bicubic,fsrcnn,imdn,carn-m,falsr-b,falsr-a \
  --box 520,210,200,150 --scale 2 --out leaderboards/plots/compare_urban100_img_092_x2.png
