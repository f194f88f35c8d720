// How a page gets the shipped model: fetched over http(s), or from a script bundle on file:// pages (which
// cannot fetch); and the service worker that makes the site work offline.
import { loadClassifier } from './classifier.js';

let bundleLoad = null; // one load of model/model-bundle.js, shared by the metadata and the classifier

function loadBundle() {
  bundleLoad ??= new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = 'model/model-bundle.js';
    script.onload = () => resolve(globalThis.LESIONLENS_MODEL_BUNDLE);
    script.onerror = () => reject(new Error('model/model-bundle.js is missing; rebuild the site with build.py.'));
    document.head.append(script);
  });
  return bundleLoad;
}

async function classifierOptions() {
  const options = { modelUrl: 'model/', vendorUrl: 'vendor/tfjs/' };
  // ?backend=webgl (or cpu, wasm) forces one TF.js backend: for troubleshooting and the benchmark.
  const forced = new URLSearchParams(location.search).get('backend');
  if (forced) options.backends = [forced];
  // WASM fetches its binary, which file:// pages cannot: WebGL or the CPU there.
  if (location.protocol === 'file:') return { ...options, bundle: await loadBundle(), backends: ['webgl', 'cpu'] };
  return options;
}

/** metadata.json alone (34 kB), long before the model: what the page's forms need to work while it loads. */
export async function loadSiteMetadata() {
  if (location.protocol === 'file:') return (await loadBundle()).metadata;
  const response = await fetch('model/metadata.json');
  if (!response.ok) throw new Error(`model/metadata.json could not be loaded: HTTP ${response.status}.`);
  return response.json();
}

/** The classifier; ``onProgress(step, fraction)`` hears how far loading has got (classifier.js loadClassifier). */
export async function loadSiteClassifier(onProgress) {
  return loadClassifier({ ...(await classifierOptions()), onProgress });
}

export function registerServiceWorker() {
  if ('serviceWorker' in navigator && location.protocol !== 'file:') {
    navigator.serviceWorker.register('sw.js').catch((err) => console.warn(`Offline mode unavailable: ${err.message}`));
  }
}
