import type { NativeKernels } from "@concord/backend";

/** Calls of each native function since the process started (shared by every test of a file). */
export const nativeCalls = { sgemm: 0, im2col: 0, maxPoolRoute: 0, batchNorm: 0, batchNormGrad: 0, batchNormGradFromMoments: 0, sgdStep: 0, addBias: 0 };

/** `kernels` with each call counted in nativeCalls (to assert that a kernel took the native path). */
export function countingKernels(kernels: NativeKernels): NativeKernels {
  return {
    description: kernels.description,
    sgemm(...args) {
      nativeCalls.sgemm++;
      kernels.sgemm(...args);
    },
    im2col(...args) {
      nativeCalls.im2col++;
      kernels.im2col(...args);
    },
    ...(kernels.maxPoolRoute
      ? {
          maxPoolRoute: (...args: Parameters<NonNullable<NativeKernels["maxPoolRoute"]>>) => {
            nativeCalls.maxPoolRoute++;
            return kernels.maxPoolRoute!(...args);
          },
          ...(kernels.maxPoolForward ? { maxPoolForward: true } : {}),
        }
      : {}),
    ...(kernels.batchNorm && kernels.batchNormGrad
      ? {
          batchNorm: (...args: Parameters<NonNullable<NativeKernels["batchNorm"]>>) => {
            nativeCalls.batchNorm++;
            kernels.batchNorm!(...args);
          },
          batchNormGrad: (...args: Parameters<NonNullable<NativeKernels["batchNormGrad"]>>) => {
            nativeCalls.batchNormGrad++;
            if (args[12] !== undefined) nativeCalls.batchNormGradFromMoments++;
            kernels.batchNormGrad!(...args);
          },
          ...(kernels.batchNormMoments ? { batchNormMoments: true } : {}),
        }
      : {}),
    ...(kernels.sgdStep
      ? {
          sgdStep: (...args: Parameters<NonNullable<NativeKernels["sgdStep"]>>) => {
            nativeCalls.sgdStep++;
            kernels.sgdStep!(...args);
          },
        }
      : {}),
    ...(kernels.addBias
      ? {
          addBias: (...args: Parameters<NonNullable<NativeKernels["addBias"]>>) => {
            nativeCalls.addBias++;
            kernels.addBias!(...args);
          },
        }
      : {}),
  };
}
