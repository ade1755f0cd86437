/// <reference lib="webworker" />
/**
 * The meta-train Web Worker: all training happens here, so the page's main thread only draws.
 * It runs iterations in slices of about 25 ms and yields between them, so pause and reset messages
 * are handled promptly.
 */
import { useBrowserBackend } from "../setup-backend.js";
import type { FromWorker, ToWorker, TrainSettings } from "./protocol.js";
import { SinusoidTrainer } from "./trainer.js";

const EVALUATE_EVERY = 10;
const FITS_EVERY = 50;
const SLICE_MS = 25;

const scope = self as unknown as DedicatedWorkerGlobalScope;
let trainer: SinusoidTrainer | undefined;
let settings: TrainSettings | undefined;
let running = false;
let generation = 0;

const post = (message: FromWorker) => scope.postMessage(message);

scope.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  try {
    if (message.type === "start") {
      reset();
      settings = message.settings;
      const backend = await useBrowserBackend(settings.backend);
      trainer = new SinusoidTrainer(settings.algorithm, settings.seed, settings.corruption, settings.weightings);
      post({ type: "ready", backend });
      post({ type: "fits", iteration: 0, ...trainer.fits() });
      start();
    } else if (message.type === "pause") {
      running = false;
      generation += 1;
      if (trainer) post({ type: "stopped", iteration: trainer.iteration });
    } else if (message.type === "resume") {
      if (trainer && !running) start();
    } else if (message.type === "reset") {
      reset();
    }
  } catch (error) {
    running = false;
    post({ type: "error", message: (error as Error)?.message ?? String(error) });
  }
};

function reset(): void {
  running = false;
  generation += 1;
  trainer?.dispose();
  trainer = undefined;
}

function start(): void {
  running = true;
  const mine = ++generation;
  const slice = () => {
    if (!running || mine !== generation || !trainer || !settings) return;
    try {
      const begin = performance.now();
      let done = 0;
      let last = trainer.step();
      done += 1;
      while (performance.now() - begin < SLICE_MS && trainer.iteration % EVALUATE_EVERY !== 0 && trainer.iteration < settings.maxIterations) {
        last = trainer.step();
        done += 1;
      }
      const msPerIteration = (performance.now() - begin) / done;
      const evaluate = trainer.iteration % EVALUATE_EVERY === 0 || trainer.iteration >= settings.maxIterations;
      const heldOut = evaluate ? trainer.heldOutLosses() : undefined;
      post({
        type: "progress",
        iteration: trainer.iteration,
        msPerIteration,
        arms: last.map((arm, a) => (heldOut ? { ...arm, heldOutLoss: heldOut[a]! } : arm)),
      });
      if (trainer.iteration % FITS_EVERY === 0) post({ type: "fits", iteration: trainer.iteration, ...trainer.fits() });
      if (trainer.iteration >= settings.maxIterations) {
        running = false;
        if (trainer.iteration % FITS_EVERY !== 0) post({ type: "fits", iteration: trainer.iteration, ...trainer.fits() });
        post({ type: "stopped", iteration: trainer.iteration });
        return;
      }
      setTimeout(slice, 0);
    } catch (error) {
      running = false;
      post({ type: "error", message: (error as Error)?.message ?? String(error) });
    }
  };
  setTimeout(slice, 0);
}
