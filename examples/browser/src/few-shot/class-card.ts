/** One class of the few-shot view: its drawing pad, the Add button and the examples given so far. */
import { DrawingPad } from "./drawing-pad.js";

export interface ClassCardActions {
  add(): void;
  remove(index: number): void;
  clearClass(): void;
}

export class ClassCard {
  readonly element: HTMLElement;
  readonly pad: DrawingPad;
  private readonly strip: HTMLElement;
  private readonly addButton: HTMLButtonElement;
  /** A thumbnail per example, in the order given; undefined for examples restored from storage. */
  private thumbnails: (string | undefined)[] = [];

  constructor(
    parent: HTMLElement,
    readonly label: string,
    color: string,
    private readonly actions: ClassCardActions,
  ) {
    this.element = document.createElement("div");
    this.element.className = "class-card";
    this.element.dataset.label = label;
    this.element.innerHTML = `<div class="card-head"><span class="label" style="background:${color}">${label}</span><span class="count"></span></div>`;
    parent.append(this.element);
    this.pad = new DrawingPad(this.element, () => this.updateAddButton());
    const buttons = document.createElement("div");
    buttons.className = "card-buttons";
    this.addButton = button(`Add example`, "add", () => actions.add());
    buttons.append(
      this.addButton,
      button("clear pad", "small", () => this.pad.clear()),
      button("clear class", "small clear-class", () => actions.clearClass()),
    );
    this.element.append(buttons);
    this.strip = document.createElement("div");
    this.strip.className = "examples";
    this.element.append(this.strip);
    this.render();
  }

  get exampleCount(): number {
    return this.thumbnails.length;
  }

  /** Records an example just given to the classifier (the pad's drawing), and clears the pad. */
  pushFromPad(): void {
    this.thumbnails.push(this.pad.canvas.toDataURL());
    this.pad.clear(false);
    this.render();
  }

  removeAt(index: number): void {
    this.thumbnails.splice(index, 1);
    this.render();
  }

  /** `count` examples without pictures (restored from storage), or none. */
  reset(count = 0): void {
    this.thumbnails = Array.from({ length: count }, () => undefined);
    this.render();
  }

  private render(): void {
    this.element.querySelector(".count")!.textContent = `${this.thumbnails.length} example${this.thumbnails.length === 1 ? "" : "s"}`;
    this.strip.replaceChildren(
      ...this.thumbnails.map((url, index) => {
        const item = document.createElement("span");
        item.className = "example";
        item.innerHTML = url
          ? `<img alt="example ${index + 1} of ${this.label}" src="${url}">`
          : `<span class="restored" title="restored from this browser's storage">${index + 1}</span>`;
        item.append(button("×", "remove", () => this.actions.remove(index), `remove example ${index + 1} of ${this.label}`));
        return item;
      }),
    );
    this.updateAddButton();
  }

  private updateAddButton(): void {
    this.addButton.disabled = this.pad.isEmpty;
  }
}

function button(text: string, className: string, onClick: () => void, label?: string): HTMLButtonElement {
  const element = document.createElement("button");
  element.className = className;
  element.textContent = text;
  if (label) element.setAttribute("aria-label", label);
  element.addEventListener("click", onClick);
  return element;
}
