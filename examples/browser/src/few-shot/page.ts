/**
 * The "Few-shot: teach it your symbols" view, on @concord/deploy's public few-shot API only:
 * choose 2–10 classes, give each several drawn examples (add, remove), adapt, draw test symbols (each
 * classified alone), save what was learned to IndexedDB and load it back. Preprocessing, adaptation
 * and prediction are fewShotClassifier's; this file only wires the page to it.
 */
import * as tf from "@tensorflow/tfjs-core";
import { type FewShotClassifier, fewShotClassifier, type Prediction } from "@concord/deploy";
import { useBrowserBackend } from "../setup-backend.js";
import { ClassCard } from "./class-card.js";
import { TestCell } from "./test-cell.js";
import "./few-shot.css";

const LABELS = ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"];
const COLORS = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#b279a2", "#72b7b2", "#eeca3b", "#ff9da6", "#9d755d", "#79706e"];
export const MIN_CLASSES = 2;
export const MAX_CLASSES = LABELS.length;
const DEFAULT_CLASSES = 5;
const TEST_PADS = 5;
/** Where Save keeps the examples and what was learned (tf.io's IndexedDB handler). */
export const SAVE_URL = "indexeddb://concord-few-shot";

export interface FewShotApi {
  /** Resolves once the model is loaded. */
  readonly ready: Promise<void>;
  readonly classCount: number;
  /** Shows `count` classes (2–10); the examples of classes no longer shown are removed. */
  setClassCount(count: number): void;
  /** Paints an image URL onto a pad (a class's pad by class index, or a test pad), as if drawn. */
  drawImage(kind: "class" | "test", slot: number, url: string): Promise<void>;
  /** Gives class `classIndex` the drawing on its pad as one more example (the Add button). */
  addExample(classIndex: number): void;
  removeExample(classIndex: number, index: number): void;
  /** Examples per shown class, in class order. */
  exampleCounts(): number[];
  adapt(): Promise<void>;
  /** Each test pad's prediction (its drawing alone), null for an empty pad or before adapting. */
  predictions(): (Prediction | null)[];
  save(): Promise<void>;
  load(): Promise<void>;
  clearAll(): void;
  /** The classifier itself (public API of @concord/deploy), once loaded. */
  readonly classifier: FewShotClassifier | undefined;
}

export function mountFewShot(root: HTMLElement, modelUrl: string): FewShotApi {
  root.innerHTML = `
    <p class="lead">This model was meta-trained on Omniglot's handwritten characters so that it can learn <b>new</b> symbols from a
    few examples each. Teach it symbols of your own, then test it. Everything runs in this page: nothing is sent anywhere.</p>
    <h2><span class="step">1</span> Choose how many symbols, and draw a few examples of each</h2>
    <div class="controls">
      <label>Symbols <select id="fs-classes">${LABELS.slice(MIN_CLASSES - 1)
        .map((_, i) => `<option value="${i + MIN_CLASSES}">${i + MIN_CLASSES}</option>`)
        .join("")}</select></label>
      <span class="note">Draw in a box, press <b>Add example</b>; repeat for more examples.</span>
    </div>
    <div class="class-cards" id="fs-classes-cards"></div>
    <div class="controls">
      <button id="fs-adapt" class="primary" disabled>Adapt to my symbols</button>
      <progress id="fs-progress" max="1" value="0"></progress>
      <button id="fs-save" disabled>Save in this browser</button>
      <button id="fs-load" disabled>Load saved</button>
      <button id="fs-clear">Clear everything</button>
      <span id="fs-status" class="status" role="status">Loading the model…</span>
    </div>
    <h2><span class="step">2</span> Draw test symbols: each is classified on its own, the bars show the probabilities</h2>
    <div class="pads" id="fs-test"></div>
    <p class="note">Model: a Prototypical Network (Snell et al. 2017). A conv net (4 blocks × 64 filters) embeds each drawing;
    each symbol is the mean embedding of its examples; p(symbol | drawing) = softmax(−squared distance). Its batch norm takes
    its statistics from your examples, never from the drawing being classified, so a test drawing's probabilities depend on
    it and your examples only. Accuracy on Omniglot characters it never saw: see examples/omniglot/README.md.</p>`;
  const $ = <T extends HTMLElement>(id: string) => root.querySelector<T>(`#${id}`)!;
  let classifier: FewShotClassifier | undefined;
  let classCount = DEFAULT_CLASSES;
  let adapting = false;
  const classSelect = $<HTMLSelectElement>("fs-classes");
  classSelect.value = String(classCount);

  const status = (text: string) => {
    $("fs-status").textContent = text;
  };
  const report = (error: unknown) => status(`Error: ${(error as Error)?.message ?? String(error)}`);
  const shown = () => cards.slice(0, classCount);
  const shownClasses = () => shown().map((card, c) => ({ label: card.label, color: COLORS[c]! }));

  const cards = LABELS.map(
    (label, c) =>
      new ClassCard($("fs-classes-cards"), label, COLORS[c]!, {
        add: () => guard(() => api.addExample(c)),
        remove: (index) => guard(() => api.removeExample(c, index)),
        clearClass: () => guard(() => clearClass(c)),
      }),
  );
  const tests = Array.from({ length: TEST_PADS }, () => {
    const cell: TestCell = new TestCell($("fs-test"), () => guard(() => classify(cell, true)));
    return cell;
  });

  function guard(action: () => void): void {
    try {
      action();
    } catch (error) {
      report(error);
    }
  }

  /** The test pad's drawing, classified alone (predict takes one image; nothing else enters it). */
  function classify(cell: TestCell, drawn = false): void {
    const ready = classifier?.isAdapted === true && !cell.pad.isEmpty;
    if (drawn && !ready && !cell.pad.isEmpty && !adapting) status("Give every symbol an example and press Adapt first.");
    cell.show(ready ? classifier!.predict(cell.pad.canvas) : null, shownClasses());
  }

  function refresh(): void {
    cards.forEach((card, c) => {
      card.element.hidden = c >= classCount;
    });
    $<HTMLButtonElement>("fs-adapt").disabled = !classifier || adapting || shown().some((card) => card.exampleCount === 0);
    $<HTMLButtonElement>("fs-save").disabled = !classifier || adapting;
    for (const cell of tests) classify(cell);
  }

  /** After any change of the examples: what was learned is gone until the next Adapt. */
  function examplesChanged(): void {
    $<HTMLProgressElement>("fs-progress").value = 0;
    const missing = shown().filter((card) => card.exampleCount === 0);
    status(missing.length > 0 ? `Draw and add an example of ${missing.map((card) => card.label).join(", ")}.` : "Press Adapt to learn these examples.");
    refresh();
  }

  function clearClass(c: number): void {
    const label = LABELS[c]!;
    if (classifier?.labels.includes(label)) classifier.clearClass(label);
    cards[c]!.reset();
  }

  const api: FewShotApi = {
    ready: (async () => {
      await useBrowserBackend("wasm");
      classifier = await fewShotClassifier(modelUrl);
      $<HTMLButtonElement>("fs-load").disabled = !(SAVE_URL in (await tf.io.listModels()));
      examplesChanged();
    })().catch((error: unknown) => {
      status(`Could not load the model: ${(error as Error)?.message ?? String(error)}`);
      throw error;
    }),
    get classCount() {
      return classCount;
    },
    get classifier() {
      return classifier;
    },
    setClassCount(count) {
      if (!Number.isInteger(count) || count < MIN_CLASSES || count > MAX_CLASSES)
        throw new Error(`classes: expected an integer from ${MIN_CLASSES} to ${MAX_CLASSES}, got ${count}`);
      for (let c = count; c < MAX_CLASSES; c++) if (cards[c]!.exampleCount > 0) clearClass(c);
      classCount = count;
      classSelect.value = String(count);
      examplesChanged();
    },
    async drawImage(kind, slot, url) {
      const pad = kind === "class" ? cards[slot]?.pad : tests[slot]?.pad;
      if (!pad) throw new Error(`no ${kind} pad ${slot}`);
      await pad.drawImage(url);
    },
    addExample(c) {
      const card = cards[c];
      if (!classifier || !card || c >= classCount) throw new Error(`no class ${c} shown (or the model is not loaded yet)`);
      if (card.pad.isEmpty) throw new Error(`draw an example of ${card.label} first`);
      classifier.addExample(card.label, card.pad.canvas);
      card.pushFromPad();
      examplesChanged();
    },
    removeExample(c, index) {
      const card = cards[c];
      if (!classifier || !card) throw new Error(`no class ${c}`);
      classifier.removeExample(card.label, index);
      card.removeAt(index);
      examplesChanged();
    },
    exampleCounts: () => shown().map((card) => card.exampleCount),
    async adapt() {
      if (!classifier) throw new Error("the model is not loaded yet");
      const missing = shown().filter((card) => card.exampleCount === 0);
      if (missing.length > 0) throw new Error(`give ${missing.map((card) => card.label).join(", ")} an example first`);
      const progress = $<HTMLProgressElement>("fs-progress");
      adapting = true;
      refresh();
      try {
        await classifier.adapt({
          onStep: ({ done, total }) => {
            progress.max = total;
            progress.value = done;
            status(`Adapting: ${done} of ${total}…`);
          },
        });
        const examples = shown().reduce((sum, card) => sum + card.exampleCount, 0);
        status(`Adapted to ${classCount} symbols (${examples} examples). Draw test symbols below.`);
      } finally {
        adapting = false;
        refresh();
      }
    },
    predictions: () => tests.map((cell) => cell.prediction),
    async save() {
      if (!classifier) throw new Error("the model is not loaded yet");
      await classifier.save(SAVE_URL);
      $<HTMLButtonElement>("fs-load").disabled = false;
      status(`Saved ${classifier.labels.length} symbols${classifier.isAdapted ? " and what was learned" : ""} in this browser (IndexedDB).`);
    },
    async load() {
      if (!classifier) throw new Error("the model is not loaded yet");
      await classifier.load(SAVE_URL);
      const counts = classifier.exampleCounts;
      const unknown = Object.keys(counts).filter((label) => !LABELS.includes(label));
      if (unknown.length > 0) {
        api.clearAll();
        throw new Error(`the saved classes ${unknown.join(", ")} are not this page's (A–J)`);
      }
      classCount = Math.max(MIN_CLASSES, ...Object.keys(counts).map((label) => LABELS.indexOf(label) + 1));
      classSelect.value = String(classCount);
      cards.forEach((card) => card.reset(counts[card.label] ?? 0));
      refresh();
      status(`Loaded ${Object.keys(counts).length} symbols from this browser${classifier.isAdapted ? ", adapted" : ": press Adapt"}.`);
    },
    clearAll() {
      cards.forEach((_, c) => clearClass(c));
      for (const card of cards) card.pad.clear(false);
      for (const cell of tests) cell.pad.clear(false);
      examplesChanged();
    },
  };
  classSelect.addEventListener("change", () => guard(() => api.setClassCount(Number(classSelect.value))));
  const onClick = (id: string, action: () => Promise<void> | void) =>
    $(id).addEventListener("click", () => {
      Promise.resolve().then(action).catch(report);
    });
  onClick("fs-adapt", () => api.adapt());
  onClick("fs-save", () => api.save());
  onClick("fs-load", () => api.load());
  onClick("fs-clear", () => api.clearAll());
  return api;
}
