/** The "Few-shot in your browser" view: draw five symbols, adapt, draw test symbols, see probabilities. */
import { useBrowserBackend } from "../setup-backend.js";
import { FewShotClassifier } from "./classifier.js";
import { DrawingPad } from "./drawing-pad.js";
import { drawingToInput } from "./preprocess.js";

const CLASS_COLORS = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#b279a2"];
const CLASS_NAMES = ["A", "B", "C", "D", "E"];
const TEST_PADS = 5;

export interface FewShotApi {
  /** Resolves once the model is loaded. */
  readonly ready: Promise<void>;
  /** Paints an image URL onto a pad ("support" 0–4 or "test" 0–4), as if drawn. */
  drawImage(kind: "support" | "test", slot: number, url: string): Promise<void>;
  adapt(): Promise<void>;
  /** Probabilities of the non-empty test pads, in pad order (one row per pad, null for empty pads). */
  predictions(): (number[] | null)[];
  clearAll(): void;
}

export function mountFewShot(root: HTMLElement, modelUrl: string): FewShotApi {
  root.innerHTML = `
    <p class="lead">This model was meta-trained on Omniglot's handwritten characters so that it can learn <b>new</b> symbols from a single
    example each. Teach it five symbols of your own, then test it. Everything runs in this page: nothing is sent anywhere.</p>
    <h2><span class="step">1</span> Draw one example of each of five different symbols</h2>
    <div class="pads" id="fs-support"></div>
    <div class="controls">
      <button id="fs-adapt" class="primary" disabled>Adapt to my five symbols</button>
      <progress id="fs-progress" max="1" value="0"></progress>
      <button id="fs-clear">Clear everything</button>
      <span id="fs-status" class="status">Loading the model…</span>
    </div>
    <h2><span class="step">2</span> Draw test symbols: the bars show which of your five each one looks like</h2>
    <div class="pads" id="fs-test"></div>
    <p class="note" id="fs-model"></p>`;
  const $ = <T extends HTMLElement>(id: string) => root.querySelector<T>(`#${id}`)!;
  let classifier: FewShotClassifier | undefined;

  const status = (text: string) => {
    $("fs-status").textContent = text;
  };
  const updateAdaptButton = () => {
    $<HTMLButtonElement>("fs-adapt").disabled = !classifier || supportPads.some((pad) => pad.isEmpty);
  };

  const supportPads = CLASS_NAMES.map((name, c) => {
    const cell = document.createElement("div");
    cell.className = "cell";
    cell.innerHTML = `<div class="label" style="background:${CLASS_COLORS[c]}">${name}</div>`;
    $("fs-support").append(cell);
    const pad = new DrawingPad(cell, () => {
      updateAdaptButton();
      if (classifier?.isAdapted) status("A symbol changed: press Adapt again.");
    });
    addClear(cell, pad);
    return pad;
  });

  const testCells = Array.from({ length: TEST_PADS }, () => {
    const cell = document.createElement("div");
    cell.className = "cell";
    $("fs-test").append(cell);
    const pad = new DrawingPad(cell, () => classify());
    addClear(cell, pad);
    const bars = document.createElement("div");
    bars.className = "bars";
    bars.innerHTML = CLASS_NAMES.map(
      (name, c) => `<div class="bar"><span class="bar-name">${name}</span><span class="bar-track"><span class="bar-fill" style="background:${CLASS_COLORS[c]}"></span></span><span class="bar-value"></span></div>`,
    ).join("");
    cell.append(bars);
    return { pad, bars };
  });

  let latest: (number[] | null)[] = testCells.map(() => null);

  function classify(): void {
    if (!classifier?.isAdapted) {
      if (testCells.some((cell) => !cell.pad.isEmpty)) status("Draw the five symbols above and press Adapt first.");
      return;
    }
    const filled = testCells.map((cell) => (cell.pad.isEmpty ? null : drawingToInput(cell.pad.grey())));
    const inputs = filled.filter((input): input is Float32Array => input !== null);
    const probabilities = classifier.predict(inputs);
    let next = 0;
    latest = filled.map((input) => (input === null ? null : probabilities[next++]!));
    testCells.forEach((cell, i) => {
      const row = latest[i];
      const best = row ? row.indexOf(Math.max(...row)) : -1;
      cell.bars.querySelectorAll<HTMLElement>(".bar").forEach((bar, c) => {
        const p = row?.[c] ?? 0;
        bar.querySelector<HTMLElement>(".bar-fill")!.style.width = `${(100 * p).toFixed(1)}%`;
        bar.querySelector<HTMLElement>(".bar-value")!.textContent = row ? `${Math.round(100 * p)}%` : "";
        bar.classList.toggle("best", c === best);
      });
    });
  }

  function addClear(cell: HTMLElement, pad: DrawingPad): void {
    const button = document.createElement("button");
    button.className = "small";
    button.textContent = "clear";
    button.addEventListener("click", () => pad.clear());
    cell.append(button);
  }

  const api: FewShotApi = {
    ready: (async () => {
      await useBrowserBackend("wasm");
      classifier = await FewShotClassifier.load(modelUrl);
      const spec = classifier.loaded.spec;
      const training = spec.training as { config?: { iterations?: number; metaBatchSize?: number; algorithm?: { order?: number } }; iteration?: number } | null;
      const evaluation = spec.evaluation as { accuracy?: { step: number; mean: number; ci95: number }[] } | null;
      const accuracy = evaluation?.accuracy?.at(-1);
      $("fs-model").textContent =
        `Model: ${spec.model.name} (4 conv blocks × 64 filters), meta-trained with first-order MAML on Omniglot 5-way 1-shot tasks ` +
        `for ${training?.iteration ?? "?"} iterations with Concord's CLI; it adapts with ${spec.innerSteps} SGD steps (lr ${String(spec.innerOptimizer.options.lr)}). ` +
        (accuracy ? `Held-out accuracy on 600 new Omniglot tasks: ${(100 * accuracy.mean).toFixed(1)}% ± ${(100 * accuracy.ci95).toFixed(1)}%. ` : "") +
        "Test symbols are classified together as one batch (the network's batch norm uses the statistics of the batch, as in training).";
      status("Draw a symbol in each of the five boxes above.");
      updateAdaptButton();
    })().catch((error: unknown) => {
      status(`Could not load the model: ${(error as Error)?.message ?? String(error)}`);
      throw error;
    }),
    async drawImage(kind, slot, url) {
      const pad = kind === "support" ? supportPads[slot] : testCells[slot]?.pad;
      if (!pad) throw new Error(`no ${kind} pad ${slot}`);
      await pad.drawImage(url);
    },
    async adapt() {
      if (!classifier) throw new Error("the model is not loaded yet");
      if (supportPads.some((pad) => pad.isEmpty)) throw new Error("draw all five symbols first");
      const button = $<HTMLButtonElement>("fs-adapt");
      button.disabled = true;
      const progress = $<HTMLProgressElement>("fs-progress");
      try {
        const support = supportPads.map((pad) => drawingToInput(pad.grey()));
        await classifier.adapt(support, (done, total) => {
          progress.max = total;
          progress.value = done;
          status(`Adapting: step ${done} of ${total}…`);
        });
        status("Adapted. Draw test symbols below.");
        classify();
      } finally {
        updateAdaptButton();
      }
    },
    predictions: () => latest,
    clearAll() {
      for (const pad of [...supportPads, ...testCells.map((cell) => cell.pad)]) pad.clear(false);
      classifier?.reset();
      latest = testCells.map(() => null);
      classify();
      $<HTMLProgressElement>("fs-progress").value = 0;
      updateAdaptButton();
      if (classifier) status("Draw a symbol in each of the five boxes above.");
    },
  };
  $("fs-adapt").addEventListener("click", () => {
    api.adapt().catch((error: unknown) => status(`Error: ${(error as Error)?.message ?? String(error)}`));
  });
  $("fs-clear").addEventListener("click", () => api.clearAll());
  return api;
}
