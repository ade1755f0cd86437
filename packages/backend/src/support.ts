// Pure checks of which kernels Concord can differentiate correctly (to any order), for code that
// must refuse to train otherwise (the meta-algorithms) and for plug-in authors' tests.
import * as tf from "@tensorflow/tfjs-core";
import { concordGradientKernels, hasConcordGradient } from "./gradients/register.js";

/** The kernels that have a Concord gradient (exact at every order), sorted by name. */
export const SUPPORTED_KERNELS: readonly string[] = Object.freeze([...concordGradientKernels].sort());

/**
 * The names among `kernelNames` whose registered gradient is not Concord's: Concord has none for
 * them (e.g. Selu), or the setup call has not run, or something registered another gradient since.
 */
export function kernelsWithoutConcordGradient(kernelNames: Iterable<string>): string[] {
  return [...new Set(kernelNames)].filter((name) => !hasConcordGradient(name));
}

interface TapeNode {
  readonly kernelName: string;
  readonly inputs: Record<string, tf.Tensor>;
  readonly outputs: readonly tf.Tensor[];
  readonly saved?: readonly tf.Tensor[];
}
interface EngineWithTape {
  readonly state: { readonly activeTape: TapeNode[] | null };
}

class TapeRead {
  constructor(readonly kernels: string[]) {}
}

/**
 * The kernels whose gradients backpropagation from `f()` to `xs` would call: the kernels on a path
 * from an x to the result (kernels that only touch other inputs, such as a OneHot of labels, are not
 * on it; customGrad ops, which bring their own gradient, are not kernels). Runs `f` once under a
 * gradient tape, reads the tape and stops before any gradient is computed; every tensor `f` creates
 * is disposed. Registers nothing.
 */
export function differentiatedKernels(f: () => tf.Tensor, xs: readonly tf.Tensor[]): string[] {
  const engine = tf.engine() as unknown as EngineWithTape;
  try {
    tf.grads(() => {
      const tape = engine.state.activeTape;
      const start = tape?.length ?? 0;
      try {
        const y = f();
        throw new TapeRead(tape ? kernelsFromXsToY(tape.slice(start), xs, y) : []);
      } finally {
        // tfjs frees the tensors a tape saves for backpropagation only after backpropagating: free
        // them here, and take this pass's nodes off the tape (it is shared when a tape is recording).
        for (const node of tape?.splice(start) ?? []) tf.dispose(node.saved ? [...node.saved] : []);
      }
    })([...xs]);
  } catch (error) {
    if (error instanceof TapeRead) return error.kernels;
    throw error;
  }
  throw new Error("unreachable: the tape reader always throws");
}

function kernelsFromXsToY(nodes: readonly TapeNode[], xs: readonly tf.Tensor[], y: tf.Tensor): string[] {
  const reached = new Set(xs.map((x) => x.id));
  const fromXs = nodes.filter((node) => {
    if (!Object.values(node.inputs).some((input) => reached.has(input.id))) return false;
    for (const output of node.outputs) reached.add(output.id);
    return true;
  });
  const needed = new Set([y.id]);
  const kernels = new Set<string>();
  const backend = tf.getBackend();
  for (let i = fromXs.length - 1; i >= 0; i--) {
    const node = fromXs[i]!;
    if (!node.outputs.some((output) => needed.has(output.id))) continue;
    for (const input of Object.values(node.inputs)) needed.add(input.id);
    if (tf.getKernel(node.kernelName, backend)) kernels.add(node.kernelName);
  }
  return [...kernels];
}
