#!/usr/bin/env bash
# One accelerator-machine session, prepared to finish in well under 8 minutes: the CUDA tests, the trainer's
# speed on the GPU against the DataLoader recipe, and a retrain of the Fashion conv q16 zoo model.
#
# That machine has torch, torchvision, scikit-learn and pillow but no network: copy MNIST and Fashion-MNIST in
# torchvision's raw layout into ./data (git-ignored), carry it, and run from the checkout:
#     bash benchmarks/gpu_session.sh            # results in $OUT (default /tmp/aeviz-gpu)
# DEVICE=cpu EPOCHS=1 SKIP_ZOO=1 runs the same steps on a CPU machine, to check the script itself.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=. AEVIZ_DATA_DIR="${AEVIZ_DATA_DIR:-$PWD/data}"
DEVICE="${DEVICE:-cuda}" EPOCHS="${EPOCHS:-5}" OUT="${OUT:-/tmp/aeviz-gpu}"
mkdir -p "$OUT"
{ command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv || echo "no nvidia-smi"; } |
  tee "$OUT/gpu.txt"
marker=$([ "$DEVICE" = cuda ] && echo "cuda" || echo "not cuda")
timeout 150 python -m pytest -q -p no:cacheprovider -m "$marker" tests/test_accelerators.py 2>&1 |
  tee "$OUT/tests.txt" | tail -3
timeout 200 python benchmarks/train_speed.py --device "$DEVICE" --epochs "$EPOCHS" 2>&1 |
  tee "$OUT/train_speed.txt" | tail -9
if [ -z "${SKIP_ZOO:-}" ]; then
  timeout 240 python -m aeviz.zoo.build --dataset fashion-mnist --only fashion-mnist-conv-q16-bce \
    --device "$DEVICE" --out "$OUT/zoo" 2>&1 | tee "$OUT/zoo.txt" | tail -4
fi
