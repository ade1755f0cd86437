/** The "Meta-train in your browser" view: controls, live curves and fits; training runs in worker.ts. */
import weightingDocUrl from "../../../../docs/WEIGHTING.md?url";
import { type ArmControls, mountArmControls } from "./arm-controls.js";
import { drawChart, type Series } from "./charts.js";
import "./meta-train.css";
import type { AlgorithmChoice, FromWorker, ToWorker, TrainSettings } from "./protocol.js";
import { DEFAULT_ARMS, WEIGHTING_FORMULAS, WEIGHTING_NAMES, type WeightingChoice, weightingKey, weightingLabel } from "./weighting-choice.js";

/** Colours and names of the two arms (runs), whatever scheme each one uses. */
const ARM_COLORS = ["#4c78a8", "#f58518"] as const;
const ARM_TITLES = ["Run A", "Run B"] as const;

/** What the page has seen, readable by tests (window.concordMetaTrain.state). */
export interface MetaTrainState {
  backend: string | undefined;
  running: boolean;
  iteration: number;
  /** The arms of the current run, in order: key (as in `heldOut`) and the label the page shows. */
  arms: { key: string; label: string }[];
  /** Held-out loss of each arm, by arm key, at every held-out evaluation. */
  heldOut: { iteration: number; losses: Record<string, number> }[];
  msPerIteration: number[];
  error: string | undefined;
}

export function mountMetaTrain(root: HTMLElement): { start(settings?: Partial<TrainSettings>): void; pause(): void; reset(): void; state: MetaTrainState } {
  const schemeList = WEIGHTING_NAMES.map(
    (name) => `<li data-scheme="${name}"><b>${WEIGHTING_FORMULAS[name].title}</b>: ${WEIGHTING_FORMULAS[name].formula}</li>`,
  ).join("");
  root.innerHTML = `
    <p class="lead">Meta-learn the MAML paper's sine-wave family right here: every task is y = A·sin(x − φ) seen through 10 points;
    the network learns an initialisation from which a few gradient steps on 10 points (one for MAML, five for Reptile) fit a new sine.
    Two runs go side by side on the same tasks from the same start, and differ only in how each meta-batch's tasks are weighted:
    pick a scheme for each. Training runs in a Web Worker: the page stays responsive.</p>
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
    <div class="controls arms"><div class="controls" id="mt-arm-0"></div><div class="controls" id="mt-arm-1"></div></div>
    <ul class="note schemes" id="mt-schemes">${schemeList}</ul>
    <p class="note">Here L_i is task i's query loss after adaptation and N the meta-batch size (25). This page shows what the schemes do,
    not which is better: the measured comparison, on equal terms and with confidence intervals, is
    <a id="mt-weighting-doc" href="${weightingDocUrl}" target="_blank" rel="noopener">docs/WEIGHTING.md</a> in the Concord repository.</p>
    <div id="mt-status" class="status">Press Start.</div>
    <div class="charts">
      <canvas id="mt-curve" class="chart wide"></canvas>
      <canvas id="mt-fit-0" class="chart"></canvas>
      <canvas id="mt-fit-1" class="chart"></canvas>
    </div>`;
  const $ = <T extends HTMLElement>(id: string) => root.querySelector<T>(`#${id}`)!;
  const state: MetaTrainState = { backend: undefined, running: false, iteration: 0, arms: [], heldOut: [], msPerIteration: [], error: undefined };
  let worker: Worker | undefined;
  /** The settings of the run in the worker (undefined before the first start and after a reset). */
  let current: TrainSettings | undefined;
  let fits: Extract<FromWorker, { type: "fits" }> | undefined;
  let paused = false;
  let drawPending = false;

  const status = (text: string) => {
    $("mt-status").textContent = text;
  };
  const send = (message: ToWorker) => worker?.postMessage(message);

  const onFormChange = () => {
    setButtons();
    redraw();
  };
  const armControls: ArmControls[] = ARM_COLORS.map((color, arm) => mountArmControls($(`mt-arm-${arm}`), arm, ARM_TITLES[arm]!, color, onFormChange));
  armControls.forEach((controls, arm) => controls.write(DEFAULT_ARMS[arm]!));
  for (const id of ["mt-algorithm", "mt-backend", "mt-seed", "mt-corruption"]) $(id).addEventListener("change", onFormChange);

  /** The schemes on screen: the running ones while a run exists, else the form's. */
  const shownChoices = (): readonly WeightingChoice[] => current?.weightings ?? armControls.map((controls) => controls.read());

  const redraw = () => {
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame(() => {
      drawPending = false;
      const choices = shownChoices();
      for (const item of root.querySelectorAll<HTMLElement>("#mt-schemes li")) {
        item.classList.toggle(
          "chosen",
          choices.some((choice) => choice.name === item.dataset.scheme),
        );
      }
      const curves: Series[] = choices.map((choice, arm) => ({
        label: weightingLabel(choice),
        color: ARM_COLORS[arm]!,
        points: state.heldOut.map((point) => [point.iteration, point.losses[weightingKey(choice)] ?? Number.NaN] as const),
      }));
      drawChart($("mt-curve"), curves, {
        title: "Held-out loss after adaptation (25 clean tasks, MSE, log scale)",
        xLabel: "meta-iteration",
        yLabel: "MSE",
        logY: true,
      });
      choices.forEach((choice, a) => {
        const arm = fits?.arms.find((candidate) => candidate.arm === weightingKey(choice));
        const series: Series[] = fits
          ? [
              { label: "true sine", color: "#222", points: fits.xs.map((x, i) => [x, fits!.truth[i]!] as const) },
              { label: "before", color: "#aaa", dash: [5, 4], points: arm ? fits.xs.map((x, i) => [x, arm.before[i]!] as const) : [] },
              {
                label: fits.innerSteps === 1 ? "after 1 step" : `after ${fits.innerSteps} steps`,
                color: ARM_COLORS[a]!,
                points: arm ? fits.xs.map((x, i) => [x, arm.after[i]!] as const) : [],
              },
              { label: "10 points", color: "#d62728", dots: true, points: fits.support.x.map((x, i) => [x, fits!.support.y[i]!] as const) },
            ]
          : [];
        drawChart($(`mt-fit-${a}`), series, {
          title: `${weightingLabel(choice)}: fit to a new sine${fits ? ` (iteration ${fits.iteration})` : ""}`,
          xLabel: "x",
          yLabel: "y",
          yRange: [-6, 6],
        });
      });
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
      if (held) state.heldOut.push({ iteration: message.iteration, losses: Object.fromEntries(message.arms.map((arm) => [arm.arm, arm.heldOutLoss!])) });
      const last = state.heldOut.at(-1);
      const losses = last ? state.arms.map((arm) => `${arm.label} ${last.losses[arm.key]!.toFixed(3)}`).join("; ") : "";
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

  const settingsFromForm = (overrides: Partial<TrainSettings>): TrainSettings => ({
    algorithm: $<HTMLSelectElement>("mt-algorithm").value as AlgorithmChoice,
    backend: $<HTMLSelectElement>("mt-backend").value as TrainSettings["backend"],
    seed: Math.max(0, Math.floor(Number($<HTMLInputElement>("mt-seed").value) || 0)),
    corruption: Number($<HTMLSelectElement>("mt-corruption").value),
    maxIterations: Number.POSITIVE_INFINITY,
    weightings: armControls.map((controls) => controls.read()),
    ...overrides,
  });

  /** A stopped run continues on Start only if the form still shows its settings; otherwise Start begins anew. */
  const canResume = () => {
    if (!worker || !current || state.running || state.iteration === 0 || state.error !== undefined) return false;
    const comparable = (settings: TrainSettings) => JSON.stringify({ ...settings, maxIterations: undefined });
    return comparable(settingsFromForm({})) === comparable(current);
  };

  const setButtons = () => {
    $<HTMLButtonElement>("mt-pause").disabled = !state.running;
    $<HTMLButtonElement>("mt-start").textContent = canResume() ? "Resume" : "Start";
  };

  /** Shows `overrides` in the form, so what is on screen is what runs. */
  const showInForm = (overrides: Partial<TrainSettings>) => {
    if (overrides.backend) $<HTMLSelectElement>("mt-backend").value = overrides.backend;
    if (overrides.algorithm) $<HTMLSelectElement>("mt-algorithm").value = overrides.algorithm;
    if (overrides.seed !== undefined) $<HTMLInputElement>("mt-seed").value = String(overrides.seed);
    const corruption = $<HTMLSelectElement>("mt-corruption");
    if (overrides.corruption !== undefined && [...corruption.options].some((option) => Number(option.value) === overrides.corruption)) {
      corruption.value = [...corruption.options].find((option) => Number(option.value) === overrides.corruption)!.value;
    }
    overrides.weightings?.forEach((choice, arm) => armControls[arm]?.write(choice));
  };

  const api = {
    state,
    /** Starts a run with the form's settings and `overrides` (shown in the form); resumes a paused run when nothing changed. */
    start(overrides: Partial<TrainSettings> = {}) {
      if (Object.keys(overrides).length === 0 && canResume()) {
        paused = false;
        state.running = true;
        send({ type: "resume" });
        setButtons();
        status(`Training on ${state.backend}…`);
        return;
      }
      api.reset();
      showInForm(overrides);
      const settings = settingsFromForm(overrides);
      current = settings;
      state.arms = settings.weightings.map((choice) => ({ key: weightingKey(choice), label: weightingLabel(choice) }));
      worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
      worker.onmessage = onMessage;
      worker.onerror = (event) => onMessage(new MessageEvent("message", { data: { type: "error", message: event.message || "the worker failed to start" } }));
      state.running = true;
      paused = false;
      setButtons();
      status("Loading the backend in the worker…");
      send({ type: "start", settings });
      redraw();
    },
    pause() {
      paused = true;
      send({ type: "pause" });
    },
    reset() {
      worker?.terminate();
      worker = undefined;
      current = undefined;
      fits = undefined;
      Object.assign(state, { backend: undefined, running: false, iteration: 0, arms: [], heldOut: [], msPerIteration: [], error: undefined });
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
