import { NATIVE_KERNEL_MEMBERS, type NativeKernels } from "@concord/backend";

type NativeFunctionName = { [K in keyof typeof NATIVE_KERNEL_MEMBERS]: (typeof NATIVE_KERNEL_MEMBERS)[K] extends "function" ? K : never }[keyof typeof NATIVE_KERNEL_MEMBERS];

/**
 * Calls of each native function since the process started (shared by every test of a file), one
 * counter per function of the contracts, and batchNormGradFromMoments: batchNormGrad calls given the
 * forward's moments.
 */
export const nativeCalls = {
  ...(Object.fromEntries(Object.entries(NATIVE_KERNEL_MEMBERS).flatMap(([name, kind]) => (kind === "function" ? [[name, 0]] : []))) as Record<NativeFunctionName, number>),
  batchNormGradFromMoments: 0,
};

/** `kernels` with each call of a native function counted in nativeCalls (to assert that a kernel took the native path); flags as they are. */
export function countingKernels(kernels: NativeKernels): NativeKernels {
  const counted: Record<string, unknown> = { description: kernels.description };
  for (const [name, kind] of Object.entries(NATIVE_KERNEL_MEMBERS)) {
    const member = kernels[name as keyof NativeKernels];
    if (member === undefined) continue;
    if (kind === "flag") {
      counted[name] = member;
      continue;
    }
    const call = member as (...args: unknown[]) => unknown;
    counted[name] = (...args: unknown[]) => {
      nativeCalls[name as NativeFunctionName]++;
      if (name === "batchNormGrad" && args[12] !== undefined) nativeCalls.batchNormGradFromMoments++;
      return call.apply(kernels, args);
    };
  }
  return counted as unknown as NativeKernels;
}
