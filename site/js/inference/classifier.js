// In-browser inference core: load + verify the shipped model, preprocess exactly as training did,
// predict and calibrate. No UI here. Everything training decided is read from metadata.json.

export class ModelLoadError extends Error {}
export class ModelIntegrityError extends ModelLoadError {}
export class ImageDecodeError extends Error {}

const DEFAULT_BACKENDS = ['wasm', 'webgl', 'cpu'];

function loadScript(url) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = url;
    script.onload = resolve;
    script.onerror = () => reject(new ModelLoadError(`Could not load the TensorFlow.js runtime from ${url}.`));
    document.head.append(script);
  });
}

// The vendored TF.js files are classic scripts (UMD); they attach to globalThis.tf. The page needs only the
// core and the graph-model converter (no Layers API, no tf.data); each backend's script is fetched only when
// that backend is tried, so the usual WASM path never downloads the WebGL or CPU kernels.
const RUNTIME_SCRIPTS = ['tf-core.es2017.min.js', 'tf-converter.es2017.min.js'];
const BACKEND_SCRIPTS = {
  wasm: 'tf-backend-wasm.es2017.min.js',
  webgl: 'tf-backend-webgl.es2017.min.js',
  cpu: 'tf-backend-cpu.es2017.min.js',
};

async function ensureTf(vendorUrl) {
  if (!globalThis.tf?.engine) await loadScript(new URL(RUNTIME_SCRIPTS[0], vendorUrl).href);
  if (!globalThis.tf.loadGraphModel) await loadScript(new URL(RUNTIME_SCRIPTS[1], vendorUrl).href);
  return globalThis.tf;
}

async function ensureBackend(tf, name, vendorUrl) {
  if (!tf.findBackendFactory(name)) await loadScript(new URL(BACKEND_SCRIPTS[name], vendorUrl).href);
  if (name === 'wasm') tf.wasm.setWasmPaths(new URL('.', vendorUrl).href);
}

// ``onBytes(n)``, when given, hears of every chunk as it arrives: the weights are most of a first visit's wait,
// and the page shows how far their download has got.
async function fetchOk(url, as, onBytes = null) {
  let response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new ModelLoadError(`Could not fetch ${url} (${err.message}). Is the site served over http(s)?`);
  }
  if (!response.ok) throw new ModelLoadError(`Could not fetch ${url}: HTTP ${response.status}.`);
  if (as === 'json') return response.json();
  if (!onBytes || !response.body) return response.arrayBuffer();
  const chunks = [];
  const reader = response.body.getReader();
  for (let part = await reader.read(); !part.done; part = await reader.read()) {
    chunks.push(part.value);
    onBytes(part.value.byteLength);
  }
  return concatBuffers(chunks);
}

export async function sha256Hex(buffer) {
  const digest = await crypto.subtle.digest('SHA-256', buffer);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

function concatBuffers(buffers) {
  const out = new Uint8Array(buffers.reduce((n, b) => n + b.byteLength, 0));
  let offset = 0;
  for (const b of buffers) {
    out.set(new Uint8Array(b), offset);
    offset += b.byteLength;
  }
  return out.buffer;
}

function base64ToBuffer(text) {
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  return bytes.buffer;
}

// model.json + weight files, fetched, or taken from the script bundle that file:// pages use (no fetch there).
async function modelFiles(modelUrl, bundle, onBytes) {
  if (bundle) {
    const paths = bundle.modelJson.weightsManifest.flatMap((group) => group.paths);
    return { topology: bundle.modelJson, paths, buffers: paths.map((p) => base64ToBuffer(bundle.weights[p])) };
  }
  const topology = await fetchOk(new URL('model.json', modelUrl).href, 'json');
  const paths = topology.weightsManifest.flatMap((group) => group.paths);
  const buffers = await Promise.all(paths.map((p) => fetchOk(new URL(p, modelUrl).href, 'buffer', onBytes)));
  return { topology, paths, buffers };
}

// Refuse any weight file whose sha256 differs from metadata.json, then assemble in-memory artifacts.
async function verifiedArtifacts({ topology, paths, buffers }, metadata) {
  for (const [i, path] of paths.entries()) {
    const expected = metadata.sha256?.[path];
    const actual = await sha256Hex(buffers[i]);
    if (actual !== expected) {
      throw new ModelIntegrityError(
        `Model file ${path} does not match metadata.json (sha256 ${actual.slice(0, 12)}…, expected ` +
          `${String(expected).slice(0, 12)}…). The model is corrupt or was modified; reinstall the site.`,
      );
    }
  }
  return {
    modelTopology: topology.modelTopology,
    format: topology.format,
    generatedBy: topology.generatedBy,
    convertedBy: topology.convertedBy,
    signature: topology.signature,
    userDefinedMetadata: topology.userDefinedMetadata,
    modelInitializer: topology.modelInitializer,
    weightSpecs: topology.weightsManifest.flatMap((group) => group.weights),
    weightData: concatBuffers(buffers),
  };
}

async function pickBackend(tf, backends, vendorUrl) {
  for (const name of backends) {
    try {
      await ensureBackend(tf, name, vendorUrl);
      if (await tf.setBackend(name)) {
        await tf.ready();
        const simd = name === 'wasm' ? await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT') : undefined;
        return { name, simd };
      }
    } catch (err) {
      console.warn(`TF.js backend ${name} failed to start: ${err.message}`);
    }
  }
  throw new ModelLoadError(`None of the TF.js backends ${backends.join(', ')} could start in this browser.`);
}

/** Decode an image Blob/File honouring EXIF orientation; throws ImageDecodeError if it is not an image. */
export async function decodeImage(blob) {
  try {
    return await createImageBitmap(blob, { imageOrientation: 'from-image' });
  } catch (err) {
    throw new ImageDecodeError(`This file could not be read as an image (${err.message}).`);
  }
}

// Centre squares larger than this are first shrunk by the browser's own high-quality resampler: an
// 8000x8000 photo as a float tensor would need ~770 MB. Below it (HAM10000 originals are 600x450) the
// pixels are exactly those Python sees.
export const MAX_EXACT_SIDE = 1024;

// Centre square, composited on white (transparent pixels become white, as in Python), as ImageData.
function centreSquarePixels(source) {
  const side = Math.min(source.width, source.height);
  const out = Math.min(side, MAX_EXACT_SIDE);
  const canvas = document.createElement('canvas');
  canvas.width = out;
  canvas.height = out;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.imageSmoothingQuality = 'high';
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, out, out);
  const left = Math.floor((source.width - side) / 2);
  const top = Math.floor((source.height - side) / 2);
  ctx.drawImage(source, left, top, side, side, 0, 0, out, out);
  return ctx.getImageData(0, 0, out, out);
}

/** Model input [1, size, size, 3] by the rule in metadata.preprocessing (see train/data/preprocess.py). */
export function preprocess(tf, source, prep) {
  const pixels = centreSquarePixels(source);
  return tf.tidy(() => {
    let x = tf.cast(tf.browser.fromPixels(pixels), 'float32');
    let side = pixels.width;
    while (side >= 2 * prep.size) {
      side = Math.floor(side / 2);
      x = tf.image.resizeBilinear(x, [side, side], false, true);
    }
    x = tf.image.resizeBilinear(x, [prep.size, prep.size], false, true);
    if (prep.colour_constancy) x = shadesOfGray(tf, x, prep.colour_constancy);
    // Functional ops: the per-package core build does not add the chained ones (x.sub) to tensors.
    return tf.expandDims(tf.div(tf.sub(x, tf.tensor1d(prep.mean)), tf.tensor1d(prep.std)), 0);
  });
}

/** Shades of Gray white balance of [size, size, 3] pixels in 0..255, step for step as train/data/preprocess.py's
 * shades_of_gray: the illuminant is each channel's Minkowski p-mean (on 0..1), scaled to grey of its length. */
function shadesOfGray(tf, x, power) {
  const illuminant = tf.pow(tf.mean(tf.pow(tf.div(x, 255), power), [0, 1], true), 1 / power);
  const grey = tf.div(tf.sqrt(tf.sum(tf.mul(illuminant, illuminant))), Math.sqrt(3));
  return tf.clipByValue(tf.div(tf.mul(x, grey), tf.maximum(illuminant, 1e-6)), 0, 255);
}

/** The referral decision for calibrated ``probabilities`` over ``classes`` (codes): the malignancy score (the
 * summed probability of the operating point's classes) and whether it reaches ``threshold``. */
export function riskDecision(probabilities, classes, operatingPoint) {
  const malignancyScore = operatingPoint.classes.reduce((s, c) => s + probabilities[classes.indexOf(c)], 0);
  return { malignancyScore, flagged: malignancyScore >= operatingPoint.threshold };
}

/**
 * Load metadata + verified model and start a backend. ``bundle`` (file:// pages) replaces every fetch;
 * ``onProgress(step, fraction)`` hears what loading is doing (fraction: of the weights downloaded, else null).
 * Returns {metadata, backend, simd, classify(source), dispose()}; classify gives probabilities,
 * malignancyScore, flagged, cams (class activation maps), outline (or null), oodDistance and outOfDistribution.
 */
export async function loadClassifier({ modelUrl, vendorUrl, backends = DEFAULT_BACKENDS, bundle = null,
  onProgress = () => {} }) {
  const base = new URL(modelUrl, document.baseURI);
  const vendor = new URL(vendorUrl, document.baseURI);
  onProgress('loading TensorFlow.js', null);
  const tf = await ensureTf(vendor);
  const metadata = bundle ? bundle.metadata : await fetchOk(new URL('metadata.json', base).href, 'json');
  let loaded = 0;
  onProgress('downloading the model', 0);
  const files = await modelFiles(base, bundle, (n) => {
    loaded += n;
    onProgress('downloading the model', Math.min(1, loaded / metadata.model_bytes));
  });
  onProgress('checking the model and starting it', null);
  const artifacts = await verifiedArtifacts(files, metadata);
  const backend = await pickBackend(tf, backends, vendor);
  const model = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
  const prep = metadata.preprocessing;
  const codes = metadata.classes.map((c) => c.code);

  const outputNodes = ['logits', 'cams', 'ood_distance', 'outline'].filter((k) => metadata.outputs[k]);
  const bias = metadata.class_bias;

  // One graph run gives logits, the class activation maps (explanation) and the OOD distance.
  function run(input) {
    const outs = model.execute(input, outputNodes.map((k) => metadata.outputs[k]));
    return Object.fromEntries(outputNodes.map((k, i) => [k, outs[i]]));
  }

  async function classify(source) {
    const { probs, cams, ood, outline } = tf.tidy(() => {
      const out = run(preprocess(tf, source, prep));
      return {
        probs: tf.squeeze(tf.softmax(tf.div(tf.add(out.logits, tf.tensor1d(bias)), metadata.temperature)), [0]),
        cams: out.cams,
        ood: out.ood_distance,
        outline: out.outline,
      };
    });
    const probabilities = Array.from(await probs.data());
    const [, height, width, classes] = cams.shape;
    const camData = await cams.data();
    const oodDistance = ood ? (await ood.data())[0] : null;
    const outlineData = outline ? await outline.data() : null;
    tf.dispose([probs, cams, ood, outline].filter(Boolean));
    return {
      probabilities,
      ...riskDecision(probabilities, codes, metadata.operating_point),
      cams: { height, width, classes, data: camData },
      // lesion probability of each model-input pixel of the photo's centre square (a model with a decoder)
      outline: outlineData ? { size: prep.size, data: outlineData } : null,
      oodDistance,
      // No guard in the metadata (an older model): nothing is rejected.
      outOfDistribution: metadata.ood ? oodDistance > metadata.ood.threshold : false,
    };
  }

  // Warm-up: the first execute compiles kernels; do it now rather than on the user's first image.
  tf.tidy(() => {
    run(tf.zeros([1, prep.size, prep.size, 3]));
  });
  return {
    tf,
    metadata,
    backend: backend.name,
    simd: backend.simd,
    classify,
    dispose: () => model.dispose(),
  };
}
