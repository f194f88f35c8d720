// How a page gets the shipped model: fetched over http(s), or from a script bundle on file:// pages (which
// cannot fetch); and the service worker that makes the site work offline.
import { loadClassifier } from './classifier.js';

function loadBundle() {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = 'model/model-bundle.js';
    script.onload = () => resolve(globalThis.LESIONLENS_MODEL_BUNDLE);
    script.onerror = () => reject(new Error('model/model-bundle.js is missing; rebuild the site with build.py.'));
    document.head.append(script);
  });
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

export async function loadSiteClassifier() {
  return loadClassifier(await classifierOptions());
}

export function registerServiceWorker() {
  if ('serviceWorker' in navigator && location.protocol !== 'file:') {
    navigator.serviceWorker.register('sw.js').catch((err) => console.warn(`Offline mode unavailable: ${err.message}`));
  }
}
