#!/usr/bin/env bash
# Rebuilds crates/face/tests/golden/*.json from the real @vladmandic/face-api 1.7.15.
#
#   tools/reference/regenerate.sh
#
# Environment: FACEGATE_MODELS (default <repo>/models, fill it with `facegate models fetch`),
# FACEGATE_SHARED_FACES (default <repo>/../shared/faces), GOLDEN_BACKEND (default cpu).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
models="${FACEGATE_MODELS:-$repo/models}"
faces="${FACEGATE_SHARED_FACES:-$repo/../shared/faces}"
out="$repo/crates/face/tests/golden"

if [[ ! -f "$models/tiny_face_detector_model-weights_manifest.json" ]]; then
    echo "no models in $models: run \`facegate models fetch\` (or set FACEGATE_MODELS)" >&2
    exit 1
fi
images=("$models"/sample{1,2,3,4,5,6}.jpg)
if [[ -d "$faces" ]]; then
    images+=("$faces"/*.jpg "$faces"/*.png)
else
    echo "warning: $faces not found, goldens for the shared faces are not regenerated" >&2
fi

(cd "$here" && npm ci --no-audit --no-fund)

ppm="$(mktemp -d)"
trap 'rm -rf "$ppm"' EXIT
(cd "$repo" && cargo run --release -q -p facegate-face --example dump_ppm -- "$ppm" "${images[@]}")

(cd "$here" && node golden.mjs --models "$models" --ppm "$ppm" --out "$out" \
    --backend "${GOLDEN_BACKEND:-cpu}" "${images[@]}")
