/**
 * ALL TensorFlow.js backend set-up of the browser example lives here (main thread and worker alike):
 * it registers the cpu, wasm and webgl backends and tells wasm where its binaries are. The binaries are
 * bundled by Vite (`?url` imports) and served by the app itself: no CDN, so the app works offline once
 * loaded. `useBackend` from @concord/backend does the rest: it selects the backend and installs Concord's
 * gradient set and kernels (without them the meta-step refuses to differentiate).
 */
import { useBackend } from "@concord/backend";
import * as tf from "@tensorflow/tfjs-core";
// A bundler does not follow @concord/backend's on-demand import of the optional webgl peer.
import "@tensorflow/tfjs-backend-webgl";
import wasmPlain from "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url";
import wasmSimd from "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url";
import wasmThreadedSimd from "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url";

export type BrowserBackend = "wasm" | "webgl" | "cpu";
export const BROWSER_BACKENDS: readonly BrowserBackend[] = ["wasm", "webgl", "cpu"];

/** Where the three wasm binaries are served (file name → URL inside the bundle). */
export const WASM_PATHS = {
  "tfjs-backend-wasm.wasm": wasmPlain,
  "tfjs-backend-wasm-simd.wasm": wasmSimd,
  "tfjs-backend-wasm-threaded-simd.wasm": wasmThreadedSimd,
};

// Without cross-origin isolation the threaded build cannot load; it was also slower for Concord
// (7.1 vs 4.0 ms/iteration measured), so the single-threaded SIMD build is used everywhere.

/** Makes `choice` the active backend and waits until it is ready; throws if it cannot initialise. */
export async function useBrowserBackend(choice: BrowserBackend): Promise<BrowserBackend> {
  if (!BROWSER_BACKENDS.includes(choice)) throw new Error(`backend: expected one of ${BROWSER_BACKENDS.join(", ")}, got ${JSON.stringify(choice)}`);
  tf.env().set("PROD", true);
  await useBackend(choice, { wasmPaths: WASM_PATHS });
  return choice;
}
