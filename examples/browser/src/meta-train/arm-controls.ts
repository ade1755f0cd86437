/** One arm's weighting controls: a scheme select and inputs for the options the chosen scheme needs. */
import { DEFAULT_CHOICES, WEIGHTING_FORMULAS, WEIGHTING_NAMES, WEIGHTING_OPTIONS, type WeightingChoice, type WeightingName } from "./weighting-choice.js";

/** How each option is entered; the worker checks the value (these bounds only guide the input). */
const OPTION_INPUTS: Readonly<Record<string, { readonly label: string; readonly min: number; readonly max?: number; readonly step: number }>> = {
  alpha: { label: "α (tail fraction)", min: 0.01, max: 1, step: 0.01 },
  temperature: { label: "τ", min: 0.01, step: 0.1 },
  groups: { label: "groups (amplitude bands)", min: 1, max: 50, step: 1 },
  lr: { label: "lr (ascent on p)", min: 0, step: 0.005 },
};

/** Every option's starting value: the sinusoid presets' (DEFAULT_CHOICES). */
const OPTION_DEFAULTS = Object.fromEntries(
  Object.values(DEFAULT_CHOICES).flatMap((choice) => Object.entries(choice).filter(([key]) => key !== "name")),
) as Record<string, number>;

export interface ArmControls {
  /** The choice the controls show now (an empty option field reads as NaN, which the worker refuses). */
  read(): WeightingChoice;
  /** Shows `choice` in the controls. */
  write(choice: WeightingChoice): void;
}

/** Fills `container` with arm `arm`'s controls; `onChange` runs whenever the user changes one. */
export function mountArmControls(container: HTMLElement, arm: number, title: string, color: string, onChange: () => void): ArmControls {
  const id = (option: string) => `mt-${option}-${arm}`;
  const optionFields = Object.entries(OPTION_INPUTS)
    .map(
      ([option, input]) =>
        `<label data-option="${option}" hidden>${input.label} <input id="${id(option)}" type="number" value="${OPTION_DEFAULTS[option]}" min="${input.min}"${input.max === undefined ? "" : ` max="${input.max}"`} step="${input.step}" /></label>`,
    )
    .join("");
  container.innerHTML = `
    <span class="arm-title" style="color:${color}">${title}</span>
    <label>weighting <select id="${id("scheme")}">${WEIGHTING_NAMES.map((name) => `<option value="${name}">${WEIGHTING_FORMULAS[name].title}</option>`).join("")}</select></label>
    ${optionFields}`;
  const select = container.querySelector<HTMLSelectElement>(`#${id("scheme")}`)!;
  const input = (option: string) => container.querySelector<HTMLInputElement>(`#${id(option)}`)!;

  const showOptions = () => {
    const needed = WEIGHTING_OPTIONS[select.value as WeightingName];
    for (const label of container.querySelectorAll<HTMLElement>("label[data-option]")) label.hidden = !needed.includes(label.dataset.option!);
  };
  container.addEventListener("change", () => {
    showOptions();
    onChange();
  });

  return {
    read() {
      const name = select.value as WeightingName;
      const options = Object.fromEntries(
        WEIGHTING_OPTIONS[name].map((option) => [option, input(option).value === "" ? Number.NaN : Number(input(option).value)]),
      );
      return { name, ...options } as WeightingChoice;
    },
    write(choice) {
      select.value = choice.name;
      for (const option of WEIGHTING_OPTIONS[choice.name]) input(option).value = String((choice as unknown as Record<string, number>)[option]);
      showOptions();
    },
  };
}
