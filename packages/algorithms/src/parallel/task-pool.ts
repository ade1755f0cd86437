import { availableParallelism } from "node:os";
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads";
import { activeBackendChoice, activeSkipKernels } from "@concord/backend";
import { ConcordError, expectInteger } from "@concord/core";
import type { RunnableTaskPool, TaskPool } from "./pool-contract.js";
import { createTaskJob, jobUnits, type TaskJobResult } from "./wire.js";

export type { TaskPool } from "./pool-contract.js";

export interface TaskPoolOptions {
  /**
   * An ES module (path or file: URL) whose `createTaskSetup(options)` returns, possibly as a
   * promise, the `{ model, objective, innerOptimizer }` that the meta-step's context uses. Workers
   * cannot receive functions, so each builds its own from this module.
   */
  readonly setup: string | URL;
  /** Structured-cloneable options passed to `createTaskSetup`. */
  readonly setupOptions?: unknown;
  /** Threads that compute tasks, the calling thread included. Default: the available cores. */
  readonly threads?: number;
  /** useBackend() choice of the workers. Default: the current one, "native" included (it must match for identical results). */
  readonly backend?: string;
}

interface PoolWorker {
  readonly worker: Worker;
  readonly port: MessagePort;
}

const WORKER_URL = workerUrl();

/**
 * Starts `threads − 1` workers; the calling thread computes tasks too. Every thread claims the
 * next task index from a shared counter until none is left (so a slower thread simply takes fewer
 * tasks), and the per-task results are put back in task order before anything is summed: parallel
 * and sequential runs give identical parameters for the same seed, whichever thread computed which
 * task (each task's numbers come from the same code on the same backend).
 */
export async function createTaskPool(options: TaskPoolOptions): Promise<TaskPool> {
  if (options === null || typeof options !== "object") throw new ConcordError("expected { setup, threads?, backend? }", { field: "options" });
  const threads = options.threads ?? availableParallelism();
  expectInteger(threads, "threads", 1);
  const setup = options.setup instanceof URL ? options.setup.href : options.setup;
  if (typeof setup !== "string" || setup.length === 0) {
    throw new ConcordError("expected the path or URL of a module exporting createTaskSetup", { field: "setup" });
  }
  const backend = options.backend ?? activeBackendChoice();
  // The creator's kernel ablations too: a worker without them would round differently.
  const skipKernels = activeSkipKernels();
  const signal = new Int32Array(new SharedArrayBuffer(4 * Math.max(1, threads - 1)));
  // The next unclaimed task index of the current meta-batch, shared by every thread.
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const workers: PoolWorker[] = [];
  try {
    for (let index = 0; index < threads - 1; index++) {
      const { port1, port2 } = new MessageChannel();
      const worker = new Worker(WORKER_URL, {
        workerData: { port: port2, signal, counter, index, setup, setupOptions: options.setupOptions, backend, skipKernels },
        transferList: [port2],
        // Plain Node on the compiled packages: no inherited flags (a test runner's export conditions
        // would point the workers at TypeScript sources).
        execArgv: [],
      });
      worker.unref();
      workers.push({ worker, port: port1 });
    }
    await Promise.all(workers.map(({ worker }) => readiness(worker)));
  } catch (error) {
    await Promise.all(workers.map(({ worker }) => worker.terminate()));
    throw error;
  }

  let closed = false;
  const pool: RunnableTaskPool = {
    threads,
    backend,
    async close() {
      closed = true;
      await Promise.all(workers.map(({ worker }) => worker.terminate()));
    },
    runsChunks: true,
    dispatch(params, tasks, kind, adaptOptions, chunkSize) {
      if (closed) throw new ConcordError("the task pool was closed", { field: "pool" });
      if (activeBackendChoice() !== backend) {
        throw new ConcordError(`the pool's workers run on '${backend}' but the current backend is '${activeBackendChoice()}'`, { field: "pool" });
      }
      const job = createTaskJob(params, tasks, kind, adaptOptions, chunkSize);
      const units = jobUnits(tasks.length, chunkSize);
      Atomics.store(counter, 0, 0);
      workers.forEach(({ port }, i) => {
        Atomics.store(signal, i, 0);
        port.postMessage(job);
      });
      const claim = () => {
        const index = Atomics.add(counter, 0, 1);
        return index < units ? index : -1;
      };
      const wait = () =>
        workers.map(({ port }, i) => {
          let message = receiveMessageOnPort(port);
          while (!message) {
            // Blocks this thread until the worker signals (Node allows Atomics.wait on the main thread).
            Atomics.wait(signal, i, 0, 1000);
            message = receiveMessageOnPort(port);
          }
          const result = message.message as TaskJobResult;
          if (result.error) throw new ConcordError(`task worker ${i + 1} failed: ${result.error}`, { field: "pool" });
          return result;
        });
      return { claim, wait };
    },
  };
  return pool;
}

function readiness(worker: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    worker.once("message", (message: { ready?: boolean; error?: string }) => {
      if (message.ready) resolve();
      else reject(new ConcordError(`task worker failed to start: ${message.error}`, { field: "setup" }));
    });
    worker.once("error", (error) => reject(new ConcordError(`task worker failed to start: ${error.message}`, { field: "setup" })));
  });
}

/** The compiled worker script; from sources (vitest) it is the built one in dist/. */
function workerUrl(): URL {
  const here = new URL(import.meta.url);
  if (here.pathname.endsWith(".ts")) return new URL("../../dist/parallel/task-worker.js", here);
  return new URL("./task-worker.js", here);
}
