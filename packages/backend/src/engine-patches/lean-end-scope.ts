import * as tf from "@tensorflow/tfjs-core";
import { enginePatched, patchEngine } from "../registry-journal.js";

interface Scope {
  readonly id: number;
  readonly track: tf.Tensor[];
}

/** The tfjs-core 4.x Engine internals Engine.endScope uses. */
interface EngineInternals {
  endScope(result?: tf.TensorContainer): void;
  track<T extends tf.Tensor>(result: T): T;
  state: { activeScope: Scope | null; scopeStack: Scope[] };
}

/**
 * Engine.endScope for the common case of a scope that returns one tensor (every op, most tidies).
 * tfjs walks the result as a container (an array, a Set and a closure per call) to learn which
 * tensors to keep; for a single tensor that is the tensor itself. Disposes and re-tracks exactly
 * what tfjs does; other results (arrays, maps, nothing) go to tfjs's endScope.
 */
export function installLeanEndScope(): boolean {
  if (enginePatched("endScope")) return true;
  const engine = tf.engine() as unknown as EngineInternals;
  if (typeof engine.endScope !== "function" || typeof engine.track !== "function" || !Array.isArray(engine.state?.scopeStack)) return false;
  const original = engine.endScope.bind(engine);
  const leanEndScope = function leanEndScope(this: EngineInternals, result?: tf.TensorContainer): void {
    const scope = this.state.activeScope;
    if (!(result instanceof tf.Tensor) || scope === null) {
      original(result);
      return;
    }
    const kept = result as tf.Tensor & { kept?: boolean; scopeId?: number };
    const track = scope.track as (tf.Tensor & { kept?: boolean })[];
    for (let i = 0; i < track.length; i++) {
      const tensor = track[i]!;
      if (!tensor.kept && tensor.id !== kept.id) tensor.dispose();
    }
    const stack = this.state.scopeStack;
    const oldScope = stack.pop()!;
    this.state.activeScope = stack.length === 0 ? null : stack[stack.length - 1]!;
    if (!kept.kept && kept.scopeId === oldScope.id) this.track(kept);
  };
  patchEngine("endScope", leanEndScope.bind(engine));
  return true;
}
