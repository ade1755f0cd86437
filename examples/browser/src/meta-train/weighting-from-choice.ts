/**
 * Builds an arm's weighting scheme from its description (weighting-choice.ts), in the worker. The
 * description arrives through postMessage, so it is checked as untrusted input: a ConcordError names
 * the field (`weightings[1].alpha`) and what was expected; the options' ranges are the factories' own.
 */
import { ConcordError, expect, type WeightingScheme } from "@concord/core";
import { cosineAgreement, gradientAgreement, lossSoftmax, tailRisk, trMaml, uniform } from "@concord/weighting";
import { WEIGHTING_NAMES, WEIGHTING_OPTIONS, type WeightingChoice, type WeightingName, weightingKey } from "./weighting-choice.js";

/** The scheme `choice` describes; `field` names the choice in errors (e.g. "weightings[0]"). */
export function weightingFromChoice(choice: unknown, field: string): WeightingScheme {
  const checked = checkChoice(choice, field);
  try {
    return build(checked);
  } catch (error) {
    // The factories name their option ("alpha"); say which arm's option it is.
    if (error instanceof ConcordError && error.field !== undefined) {
      throw new ConcordError(error.message.slice(error.field.length + 2), { field: `${field}.${error.field}`, cause: error });
    }
    throw error;
  }
}

/** Checks the arms' choices (at least one, no two alike, each valid) and returns them typed. */
export function checkArmChoices(choices: unknown): WeightingChoice[] {
  expect(Array.isArray(choices) && choices.length > 0, "weightings", `expected a non-empty array of { name, ...options }, got ${JSON.stringify(choices)}`);
  const checked = (choices as unknown[]).map((choice, arm) => checkChoice(choice, `weightings[${arm}]`));
  const keys = checked.map(weightingKey);
  const repeated = keys.findIndex((key, arm) => keys.indexOf(key) !== arm);
  expect(
    repeated < 0,
    "weightings",
    `arms ${keys.indexOf(keys[repeated]!)} and ${repeated} are both ${keys[repeated]}: they would be the same run; choose another scheme or other options for one of them`,
  );
  return checked;
}

function checkChoice(choice: unknown, field: string): WeightingChoice {
  expect(choice !== null && typeof choice === "object" && !Array.isArray(choice), field, `expected { name, ...options }, got ${JSON.stringify(choice)}`);
  const name = (choice as { name?: unknown }).name;
  expect(
    typeof name === "string" && (WEIGHTING_NAMES as readonly string[]).includes(name),
    `${field}.name`,
    `expected one of ${WEIGHTING_NAMES.map((known) => `"${known}"`).join(", ")}, got ${JSON.stringify(name)}`,
  );
  const options = WEIGHTING_OPTIONS[name as WeightingName];
  const given = Object.keys(choice).filter((key) => key !== "name");
  const unknown = given.filter((key) => !options.includes(key));
  const expected = options.length === 0 ? "no options" : `only ${options.join(", ")}`;
  expect(unknown.length === 0, field, `${name} takes ${expected}; got also ${unknown.map((key) => `"${key}"`).join(", ")}`);
  const missing = options.filter((option) => !given.includes(option));
  expect(missing.length === 0, `${field}.${missing[0]}`, `${name} needs ${missing.join(" and ")} (a number)`);
  return choice as WeightingChoice;
}

function build(choice: WeightingChoice): WeightingScheme {
  switch (choice.name) {
    case "uniform":
      return uniform();
    case "agreement":
      return gradientAgreement();
    case "cosine-agreement":
      return cosineAgreement();
    case "tail-risk":
      return tailRisk({ alpha: choice.alpha });
    case "loss-softmax":
      return lossSoftmax({ temperature: choice.temperature });
    case "tr-maml":
      return trMaml({ groups: choice.groups, lr: choice.lr });
  }
}
