/** A test pad and the probability bars of the drawing on it, classified alone. */
import type { Prediction } from "@concord/deploy";
import { DrawingPad } from "./drawing-pad.js";

export class TestCell {
  readonly pad: DrawingPad;
  private readonly bars: HTMLElement;
  prediction: Prediction | null = null;

  constructor(parent: HTMLElement, onChange: () => void) {
    const cell = document.createElement("div");
    cell.className = "cell test-cell";
    parent.append(cell);
    this.pad = new DrawingPad(cell, onChange);
    const clear = document.createElement("button");
    clear.className = "small";
    clear.textContent = "clear";
    clear.addEventListener("click", () => this.pad.clear());
    this.bars = document.createElement("div");
    this.bars.className = "bars";
    cell.append(clear, this.bars);
  }

  /** Shows `prediction` (or nothing) as one bar per class, in the view's class order. */
  show(prediction: Prediction | null, classes: readonly { label: string; color: string }[]): void {
    this.prediction = prediction;
    this.bars.replaceChildren(
      ...classes.map(({ label, color }) => {
        const p = prediction?.probabilities[label] ?? 0;
        const bar = document.createElement("div");
        bar.className = `bar${prediction?.label === label ? " best" : ""}`;
        bar.innerHTML = `<span class="bar-name">${label}</span><span class="bar-track"><span class="bar-fill" style="background:${color};width:${(100 * p).toFixed(1)}%"></span></span><span class="bar-value">${prediction ? `${Math.round(100 * p)}%` : ""}</span>`;
        return bar;
      }),
    );
  }
}
