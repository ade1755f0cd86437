/** The "Meta-train in your browser" view: controls, live curves and fits; training runs in worker.ts. */
import { drawChart, type Series } from "./charts.js";
import type { AlgorithmChoice, FromWorker, ToWorker, TrainSettings } from "./protocol.js";

const COLORS: Record<string, string> = { uniform: "#4c78a8", agreement: "#f58518" };
const LABELS: Record<string, string> = { uniform: "uniform", agreement: "gradient agreement" };

/** What the page has seen, readable by tests (window.concordMetaTrain.state). */
export interface MetaTrainState {
  backend: string | undefined;
  running: boolean;
  iteration: number;
  /** [iteration, loss per arm…] of every held-out evaluation. */
  heldOut: { iteration: number; losses: Record<string, number> }[];
  msPerIteration: number[];
  error: string | undefined;
}

export function mountMetaTrain(root: HTMLElement): { start(settings?: Partial<TrainSettings>): void; pause(): void; reset(): void; state: MetaTrainState } {
  root.innerHTML = `
    <p class="lead">Meta-learn the MAML paper's sine-wave family right here: every task is y = A·sin(x − φ) seen through 10 points;
    the network learns an initialisation from which <b>one gradient step</b> on 10 points fits a new sine. Two runs go side by side
    with the same tasks: meta-batch tasks weighted equally (<span style="color:${COLORS.uniform}">uniform</span>) or by
    <span style="color:${COLORS.agreement}">gradient agreement</span> (tasks whose updates agree with the others count more,
    which helps when some training tasks are corrupted). Training runs in a Web Worker: the page stays responsive.</p>
    <div class="controls">
      <label>Algorithm <select id="mt-algorithm">
        <option value="maml2">MAML (second order)</option><option value="fomaml">first-order MAML</option><option value="reptile">Reptile (5 inner steps)</option>
      </select></label>
      <label>Backend <select id="mt-backend"><option value="wasm">wasm</option><option value="webgl">webgl</option><option value="cpu">cpu</option></select></label>
      <label>Seed <input id="mt-seed" type="number" value="0" min="0" step="1" /></label>
      <label>Corrupted training tasks <select id="mt-corruption"><option value="0.2">20% (targets are noise)</option><option value="0">none</option></select></label>
      <button id="mt-start" class="primary">Start</button>
      <button id="mt-pause" disabled>Pause</button>
      <button id="mt-reset">Reset</button>
    </div>
    <div id="mt-status" class="status">Press Start.</div>
    <div class="charts">
      <canvas id="mt-curve" class="chart wide"></canvas>
      <canvas id="mt-fit-uniform" class="chart"></canvas>
      <canvas id="mt-fit-agreement" class="chart"></canvas>
    </div>`;
  const $ = <T extends HTMLElement>(id: string) => root.querySelector<T>(`#${id}`)!;
  const state: MetaTrainState = { backend: undefined, running: false, iteration: 0, heldOut: [], msPerIteration: [], error: undefined };
  let worker: Worker | undefined;
  let fits: Extract<FromWorker, { type: "fits" }> | undefined;
  let paused = false;
  let drawPending = false;

  const status = (text: string) => {
    $("mt-status").textContent = text;
  };
  const send = (message: ToWorker) => worker?.postMessage(message);

  const redraw = () => {
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame(() => {
      drawPending = false;
      const curves: Series[] = ["uniform", "agreement"].map((name) => ({
        label: LABELS[name]!,
        color: COLORS[name]!,
        points: state.heldOut.map((point) => [point.iteration, point.losses[name] ?? Number.NaN] as const),
      }));
      drawChart($("mt-curve"), curves, { title: "Held-out loss after adaptation (25 clean tasks, MSE, log scale)", xLabel: "meta-iteration", yLabel: "MSE", logY: true });
      for (const name of ["uniform", "agreement"]) {
        const arm = fits?.arms.find((candidate) => candidate.weighting === name);
        const series: Series[] = fits
          ? [
              { label: "true sine", color: "#222", points: fits.xs.map((x, i) => [x, fits!.truth[i]!] as const) },
              { label: "before", color: "#aaa", dash: [5, 4], points: arm ? fits.xs.map((x, i) => [x, arm.before[i]!] as const) : [] },
              { label: "after 1 step", color: COLORS[name]!, points: arm ? fits.xs.map((x, i) => [x, arm.after[i]!] as const) : [] },
              { label: "10 points", color: "#d62728", dots: true, points: fits.support.x.map((x, i) => [x, fits!.support.y[i]!] as const) },
            ]
          : [];
        drawChart($(`mt-fit-${name}`), series, {
          title: `${LABELS[name]}: fit to a new sine${fits ? ` (iteration ${fits.iteration})` : ""}`,
          xLabel: "x",
          yLabel: "y",
          yRange: [-6, 6],
        });
      }
    });
  };

  const onMessage = (event: MessageEvent<FromWorker>) => {
    const message = event.data;
    if (message.type === "ready") {
      state.backend = message.backend;
      status(`Training on ${message.backend}…`);
    } else if (message.type === "progress") {
      state.iteration = message.iteration;
      state.msPerIteration.push(message.msPerIteration);
      const held = message.arms.every((arm) => arm.heldOutLoss !== undefined);
      if (held) state.heldOut.push({ iteration: message.iteration, losses: Object.fromEntries(message.arms.map((arm) => [arm.weighting, arm.heldOutLoss!])) });
      const last = state.heldOut.at(-1);
      const losses = last ? message.arms.map((arm) => `${LABELS[arm.weighting]} ${last.losses[arm.weighting]!.toFixed(3)}`).join(", ") : "";
      status(`Iteration ${message.iteration} on ${state.backend} · ${message.msPerIteration.toFixed(1)} ms/iteration (both runs) · held-out MSE: ${losses}`);
      redraw();
    } else if (message.type === "fits") {
      fits = message;
      redraw();
    } else if (message.type === "stopped") {
      state.running = false;
      setButtons();
      status(`${paused ? "Paused" : "Stopped"} at iteration ${message.iteration}.`);
    } else if (message.type === "error") {
      state.error = message.message;
      state.running = false;
      setButtons();
      status(`Error: ${message.message}`);
    }
  };

  const setButtons = () => {
    $<HTMLButtonElement>("mt-pause").disabled = !state.running;
    $<HTMLButtonElement>("mt-start").textContent = worker && !state.running && state.iteration > 0 ? "Resume" : "Start";
  };

  const settingsFromForm = (overrides: Partial<TrainSettings>): TrainSettings => ({
    algorithm: $<HTMLSelectElement>("mt-algorithm").value as AlgorithmChoice,
    backend: $<HTMLSelectElement>("mt-backend").value as TrainSettings["backend"],
    seed: Math.max(0, Math.floor(Number($<HTMLInputElement>("mt-seed").value) || 0)),
    corruption: Number($<HTMLSelectElement>("mt-corruption").value),
    maxIterations: Number.POSITIVE_INFINITY,
    ...overrides,
  });

  const api = {
    state,
    start(overrides: Partial<TrainSettings> = {}) {
      if (worker && !state.running && state.iteration > 0 && Object.keys(overrides).length === 0) {
        paused = false;
        state.running = true;
        send({ type: "resume" });
        setButtons();
        status(`Training on ${state.backend}…`);
        return;
      }
      api.reset();
      if (overrides.backend) $<HTMLSelectElement>("mt-backend").value = overrides.backend;
      if (overrides.algorithm) $<HTMLSelectElement>("mt-algorithm").value = overrides.algorithm;
      if (overrides.seed !== undefined) $<HTMLInputElement>("mt-seed").value = String(overrides.seed);
      worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
      worker.onmessage = onMessage;
      worker.onerror = (event) => onMessage(new MessageEvent("message", { data: { type: "error", message: event.message || "the worker failed to start" } }));
      state.running = true;
      paused = false;
      setButtons();
      status("Loading the backend in the worker…");
      send({ type: "start", settings: settingsFromForm(overrides) });
    },
    pause() {
      paused = true;
      send({ type: "pause" });
    },
    reset() {
      worker?.terminate();
      worker = undefined;
      fits = undefined;
      Object.assign(state, { backend: undefined, running: false, iteration: 0, heldOut: [], msPerIteration: [], error: undefined });
      setButtons();
      status("Press Start.");
      redraw();
    },
  };
  $("mt-start").addEventListener("click", () => api.start());
  $("mt-pause").addEventListener("click", () => api.pause());
  $("mt-reset").addEventListener("click", () => api.reset());
  redraw();
  return api;
}
