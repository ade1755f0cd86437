import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, createRng, type Task, type TaskSampler, tensorGrowth } from "@concord/core";

/** A sampler, or a factory that makes a fresh one (for samplers that keep state between calls). */
export type TaskSamplerSource = TaskSampler | (() => TaskSampler);

export interface TaskSamplerConformanceOptions {
  /** Meta-batch sizes tried by the shape checks. Default [1, 4]. */
  readonly counts?: readonly number[];
  /** Seed of the task stream. Default 1. */
  readonly seed?: number;
}

/** One contract check: `run` throws an Error that says what was wrong. */
export interface ConformanceCheck {
  readonly title: string;
  run(): void;
}

const SETS = ["support", "query"] as const;
const PARTS = ["x", "y"] as const;

/**
 * The contract every task sampler meets, as plain checks (no test framework):
 * `testTaskSampler` registers each as a vitest test. Runs on the current tf backend.
 */
export function taskSamplerConformanceChecks(source: TaskSamplerSource, options: TaskSamplerConformanceOptions = {}): ConformanceCheck[] {
  const counts = options.counts ?? [1, 4];
  const seed = options.seed ?? 1;
  const fresh = (): TaskSampler => (typeof source === "function" ? source() : source);
  const batchSize = Math.max(2, ...counts);

  const checks: ConformanceCheck[] = [
    {
      title: "has a non-empty string name",
      run() {
        const name: unknown = fresh().name;
        if (typeof name !== "string" || name.trim() === "") throw new Error(`expected a non-empty string name, got ${JSON.stringify(name)}`);
      },
    },
  ];

  for (const count of counts) {
    checks.push({
      title: `sample(${count}) returns ${count} tasks of support and query {x, y} tensors with as many x as y examples`,
      run() {
        withTasks(fresh().sample(count, createRng(seed)), (tasks) => {
          if (!Array.isArray(tasks) || tasks.length !== count) throw new Error(`expected an array of ${count} tasks, got ${describe(tasks)}`);
          tasks.forEach((task, index) => checkTask(task, index));
        });
      },
    });
  }

  checks.push(
    {
      title: "every task of one call has the same shapes and dtypes (so a meta-batch can be stacked)",
      run() {
        withTasks(fresh().sample(batchSize, createRng(seed)), (tasks) => {
          tasks.forEach((task, index) => checkTask(task, index));
          const first = signature(tasks[0]!);
          tasks.forEach((task, index) => {
            const other = signature(task);
            if (other !== first) throw new Error(`task ${index} has shapes ${other}, task 0 has ${first}`);
          });
        });
      },
    },
    {
      title: "x and y hold finite values",
      run() {
        withTasks(fresh().sample(batchSize, createRng(seed)), (tasks) => {
          tasks.forEach((task, index) => {
            checkTask(task, index);
            for (const set of SETS) {
              for (const part of PARTS) {
                const values = task[set][part].dataSync();
                const at = Array.prototype.findIndex.call(values, (value: number) => !Number.isFinite(value));
                if (at >= 0) throw new Error(`task ${index} ${set}.${part}[${at}] = ${values[at]} is not finite`);
              }
            }
          });
        });
      },
    },
    {
      title: "the same seed gives identical tasks, bit for bit, and leaves the rng in the same state",
      run() {
        const first = draw(fresh(), batchSize, seed);
        const second = draw(fresh(), batchSize, seed);
        if (first.tasks.length !== second.tasks.length) throw new Error(`got ${first.tasks.length} then ${second.tasks.length} tasks for the same seed`);
        first.tasks.forEach((task, index) => {
          const difference = firstDifference(task, second.tasks[index]!);
          if (difference !== undefined)
            throw new Error(
              `task ${index} differs between two draws with seed ${seed}: ${difference} (does the sampler use a random source other than the rng?)`,
            );
        });
        if (first.rngState.join() !== second.rngState.join()) {
          throw new Error(`the rng ended in state [${first.rngState}] then [${second.rngState}] for the same seed`);
        }
      },
    },
    {
      title: "draws its randomness from the rng: different seeds give different tasks and the rng advances",
      run() {
        const rng = createRng(seed);
        const initial = rng.getState().join();
        const first = withTasks(fresh().sample(batchSize, rng), snapshot);
        if (rng.getState().join() === initial) throw new Error("sample() did not advance the rng it was given");
        const other = draw(fresh(), batchSize, seed + 1);
        if (first.every((task, index) => other.tasks[index] !== undefined && sameSnapshot(task, other.tasks[index]!))) {
          throw new Error(`seeds ${seed} and ${seed + 1} gave identical tasks`);
        }
      },
    },
    {
      title: "leaks no tensors: disposing the returned tasks brings tf.memory().numTensors back",
      run() {
        const sampler = fresh();
        const rng = createRng(seed + 2);
        const growth = tensorGrowth(() => withTasks(sampler.sample(batchSize, rng), () => undefined), 3);
        if (growth !== 0) throw new Error(`numTensors grew by ${growth} over 3 calls whose tasks were all disposed`);
      },
    },
    {
      title: "rejects a bad count (0, -1, 1.5) with a ConcordError naming 'count'",
      run() {
        for (const count of [0, -1, 1.5]) {
          let caught: unknown;
          let returned: Task[] | undefined;
          try {
            returned = fresh().sample(count, createRng(seed));
          } catch (error) {
            caught = error;
          }
          if (returned !== undefined) {
            disposeTasks(returned);
            throw new Error(`sample(${count}) returned ${returned.length} tasks instead of throwing`);
          }
          if (!(caught instanceof ConcordError)) throw new Error(`sample(${count}) threw ${String(caught)}, expected a ConcordError`);
          if (caught.field !== "count") throw new Error(`sample(${count}) threw a ConcordError for field ${JSON.stringify(caught.field)}, expected "count"`);
        }
      },
    },
  );
  return checks;
}

function describe(value: unknown): string {
  return Array.isArray(value) ? `an array of ${value.length}` : String(value);
}

function checkTask(task: Task, index: number): void {
  if (task === null || typeof task !== "object") throw new Error(`task ${index} is ${String(task)}, expected { support, query }`);
  for (const set of SETS) {
    const batch = task[set];
    if (batch === null || typeof batch !== "object") throw new Error(`task ${index}.${set} is ${String(batch)}, expected { x, y }`);
    for (const part of PARTS) {
      const tensor = batch[part];
      if (!(tensor instanceof tf.Tensor)) throw new Error(`task ${index}.${set}.${part} is not a tensor`);
      if (tensor.isDisposed) throw new Error(`task ${index}.${set}.${part} is already disposed`);
      if (tensor.rank < 1 || tensor.shape[0] === 0) throw new Error(`task ${index}.${set}.${part} has shape [${tensor.shape}], expected [examples ≥ 1, ...]`);
    }
    if (batch.x.shape[0] !== batch.y.shape[0]) {
      throw new Error(`task ${index}.${set} has ${batch.x.shape[0]} inputs (x [${batch.x.shape}]) but ${batch.y.shape[0]} targets (y [${batch.y.shape}])`);
    }
  }
}

function signature(task: Task): string {
  return SETS.map((set) => PARTS.map((part) => `${set}.${part} ${task[set][part].dtype}[${task[set][part].shape}]`).join(", ")).join("; ");
}

type TaskSnapshot = { readonly signature: string; readonly values: readonly (readonly number[])[] };

function snapshot(tasks: Task[]): TaskSnapshot[] {
  return tasks.map((task, index) => {
    checkTask(task, index);
    return { signature: signature(task), values: SETS.flatMap((set) => PARTS.map((part) => Array.from(task[set][part].dataSync()))) };
  });
}

/** Samples `count` tasks from a fresh rng seeded with `seed`: their values and the rng's state afterwards. */
function draw(sampler: TaskSampler, count: number, seed: number): { tasks: TaskSnapshot[]; rngState: readonly number[] } {
  const rng = createRng(seed);
  const tasks = withTasks(sampler.sample(count, rng), snapshot);
  return { tasks, rngState: rng.getState() };
}

function firstDifference(a: TaskSnapshot, b: TaskSnapshot): string | undefined {
  if (a.signature !== b.signature) return `shapes ${a.signature} vs ${b.signature}`;
  const names = SETS.flatMap((set) => PARTS.map((part) => `${set}.${part}`));
  for (let p = 0; p < a.values.length; p++) {
    const left = a.values[p]!;
    const right = b.values[p]!;
    for (let i = 0; i < left.length; i++) if (!Object.is(left[i], right[i])) return `${names[p]}[${i}] = ${left[i]} vs ${right[i]}`;
  }
  return undefined;
}

function sameSnapshot(a: TaskSnapshot, b: TaskSnapshot): boolean {
  return firstDifference(a, b) === undefined;
}

function disposeTasks(tasks: unknown): void {
  if (!Array.isArray(tasks)) return;
  for (const task of tasks as Task[]) {
    for (const set of SETS)
      for (const part of PARTS) {
        const tensor = task?.[set]?.[part];
        if (tensor instanceof tf.Tensor) tensor.dispose();
      }
  }
}

/** Runs `body` on the tasks, then disposes every tensor in them whatever happens. */
function withTasks<T>(tasks: Task[], body: (tasks: Task[]) => T): T {
  try {
    return body(tasks);
  } finally {
    disposeTasks(tasks);
  }
}
