// The machine's measured GEMM peak, for the bench's floor column. Prints one line
// `GEMM_RESULT {json}` with the best GFLOP/s of square float32 matMuls (n = 256, 512, 1024):
//   - "wasm": tfjs-wasm's 2-D matMul (XNNPACK, SIMD, one thread), the engine Concord runs on;
//   - "native": the same matMul through @concord/backend-native's addon (OpenBLAS on the wasm heap),
//     with every core sharing one call and on one thread, when the addon is built;
//   - "torch": PyTorch's `a @ b` with the bench's thread count, when Debian's python3 has torch
//     (the best this machine's BLAS does: the floor every implementation is measured against).
import { spawnSync } from "node:child_process";
import * as tf from "@tensorflow/tfjs-core";

const threads = Number(process.argv[2] ?? 2);
const sizes = [256, 512, 1024];
const { useBackend } = await import(new URL("../packages/backend/dist/index.js", import.meta.url).href);
tf.env().set("PROD", true);
await useBackend("wasm");

/** Best GFLOP/s over repeated n×n matMuls (each timed with its read-back, after a warm-up). */
function wasmGflops(n) {
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  tf.matMul(a, b).dispose();
  let best = Number.POSITIVE_INFINITY;
  const repeats = n >= 1024 ? 3 : 10;
  for (let r = 0; r < repeats; r++) {
    const started = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    best = Math.min(best, performance.now() - started);
    c.dispose();
  }
  tf.dispose([a, b]);
  return (2 * n ** 3) / (best * 1e6);
}

const wasm = Math.max(...sizes.map(wasmGflops));
let native;
let nativeOneThread;
try {
  await useBackend("native");
  native = Math.max(...sizes.map(wasmGflops));
  const { loadNativeKernels } = await import("@concord/backend-native");
  loadNativeKernels({ threads: 1 });
  nativeOneThread = Math.max(...sizes.map(wasmGflops));
} catch (error) {
  console.error(`native GEMM not measured: ${error.message}`);
}
const torchScript = `
import time, torch
torch.set_num_threads(${threads})
best = 0.0
for n in (${sizes.join(",")}):
    a = torch.randn(n, n); b = torch.randn(n, n); a @ b
    for _ in range(10):
        t = time.perf_counter(); a @ b; dt = time.perf_counter() - t
        best = max(best, 2 * n ** 3 / dt / 1e9)
print(best)
`;
const python = spawnSync("/usr/bin/python3", ["-c", torchScript], { encoding: "utf8" });
const torch = python.status === 0 ? Number(python.stdout.trim()) : undefined;
console.log(`GEMM_RESULT ${JSON.stringify({ wasmGflops: wasm, nativeGflops: native, nativeGflopsOneThread: nativeOneThread, torchGflops: torch, torchThreads: torch === undefined ? undefined : threads, sizes })}`);
