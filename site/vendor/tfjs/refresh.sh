#!/usr/bin/env bash
# Re-vendor the TensorFlow.js runtime from the npm registry (run from anywhere; needs npm).
# The site loads these files from its own origin: no CDN, so it works offline and leaks nothing.
set -euo pipefail
VERSION="${1:-4.22.0}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "@tensorflow/tfjs@$VERSION" "@tensorflow/tfjs-backend-wasm@$VERSION" >/dev/null
mkdir core wasm
tar xzf "tensorflow-tfjs-$VERSION.tgz" -C core
tar xzf "tensorflow-tfjs-backend-wasm-$VERSION.tgz" -C wasm
cp core/package/dist/tf.es2017.min.js "$here/"
cp wasm/package/dist/tf-backend-wasm.es2017.min.js \
   wasm/package/dist/tfjs-backend-wasm.wasm \
   wasm/package/dist/tfjs-backend-wasm-simd.wasm "$here/"
echo "$VERSION" > "$here/VERSION"
(cd "$here" && sha256sum tf.es2017.min.js tf-backend-wasm.es2017.min.js tfjs-backend-wasm.wasm tfjs-backend-wasm-simd.wasm > SHA256SUMS)
echo "vendored TensorFlow.js $VERSION into $here"
