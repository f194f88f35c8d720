#!/usr/bin/env bash
# Re-vendor the TensorFlow.js runtime from the npm registry (run from anywhere; needs npm).
# The site loads these files from its own origin: no CDN, so it works offline and leaks nothing.
# The per-package builds, not the union tf.min.js: the page needs core + converter + one backend, and loads
# each backend's file only when it tries that backend (site/js/classifier.js).
set -euo pipefail
VERSION="${1:-4.22.0}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
packages=(tfjs-core tfjs-converter tfjs-backend-wasm tfjs-backend-webgl tfjs-backend-cpu)
for package in "${packages[@]}"; do
  npm pack --silent "@tensorflow/$package@$VERSION" >/dev/null
  mkdir "$package"
  tar xzf "tensorflow-$package-$VERSION.tgz" -C "$package"
done
files=(tf-core.es2017.min.js tf-converter.es2017.min.js tf-backend-wasm.es2017.min.js tfjs-backend-wasm.wasm
       tfjs-backend-wasm-simd.wasm tf-backend-webgl.es2017.min.js tf-backend-cpu.es2017.min.js)
for package in "${packages[@]}"; do
  for file in "${files[@]}"; do
    if [ -f "$package/package/dist/$file" ]; then cp "$package/package/dist/$file" "$here/"; fi
  done
done
echo "$VERSION" > "$here/VERSION"
(cd "$here" && sha256sum "${files[@]}" > SHA256SUMS)
echo "vendored TensorFlow.js $VERSION into $here"
