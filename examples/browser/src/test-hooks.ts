/** Entry points for the browser tests (loaded on demand; the app itself never calls them). */
import * as tf from "@tensorflow/tfjs-core";
export { timeAdaptation } from "./few-shot/adapt-timing.js";
import { referenceMetaGradient } from "./meta-train/meta-gradient.js";
import { type BrowserBackend, useBrowserBackend } from "./setup-backend.js";

/** The reference meta-gradient on `backend`, and the milliseconds of one more run (after warm-up). */
export async function metaGradientOn(backend: BrowserBackend): Promise<{ backend: string; gradient: Record<string, number[]>; ms: number }> {
  await useBrowserBackend(backend);
  const gradient = referenceMetaGradient();
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const begin = performance.now();
    referenceMetaGradient();
    runs.push(performance.now() - begin);
  }
  runs.sort((a, b) => a - b);
  return { backend: tf.getBackend(), gradient, ms: runs[2]! };
}

/**
 * Loads an export with TensorFlow.js's own handlers, tf.io.http and tf.io.browserFiles (the files
 * fetched and handed over as File objects, as an <input type=file> would), and returns the decoded
 * weights of each, by name.
 */
export async function loadWithTfIo(url: string): Promise<Record<"http" | "browserFiles", Record<string, number[]>>> {
  // The page may still be initialising its backend (wasm) when the test calls in: decoding makes tensors.
  await tf.ready();
  const decode = (artifacts: tf.io.ModelArtifacts) => {
    const buffer = tf.io.concatenateArrayBuffers(artifacts.weightData as ArrayBuffer | ArrayBuffer[]);
    const tensors = tf.io.decodeWeights(buffer, artifacts.weightSpecs!);
    const out = Object.fromEntries(Object.entries(tensors).map(([name, tensor]) => [name, Array.from(tensor.dataSync())]));
    tf.dispose(Object.values(tensors));
    return out;
  };
  const viaHttp = decode(await tf.io.http(url).load!());
  const json = await (await fetch(url)).text();
  const manifest = JSON.parse(json) as { weightsManifest: { paths: string[] }[] };
  const shards = await Promise.all(
    manifest.weightsManifest
      .flatMap((group) => group.paths)
      .map(async (path) => {
        const response = await fetch(new URL(path, new URL(url, location.href)));
        return new File([await response.arrayBuffer()], path);
      }),
  );
  const viaFiles = decode(await tf.io.browserFiles([new File([json], "model.json"), ...shards]).load!());
  return { http: viaHttp, browserFiles: viaFiles };
}
