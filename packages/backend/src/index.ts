// Pure exports: importing @concord/backend changes nothing in TensorFlow.js. The one setup call is
// useBackend() (or installConcord() when you set tf's backend yourself).
export {
  activeBackendChoice,
  activeSkipKernels,
  BACKEND_CHOICES,
  type BackendChoice,
  type Engine,
  NATIVE_PACKAGE,
  type UseBackendOptions,
  useBackend,
  WEBGL_PACKAGE,
} from "./use-backend.js";
export { NATIVE_KERNEL_MEMBERS, type NativeKernels, nativeKernels, setNativeKernels } from "./kernels/native-kernels.js";
export { type Installation, type InstallOptions, installConcord, isConcordInstalled, uninstallConcord } from "./install.js";
export { differentiatedKernels, kernelsWithoutConcordGradient, SUPPORTED_KERNELS } from "./support.js";
export { concordGradientConfigs, concordGradientKernels, registerConcordGradients } from "./gradients/register.js";
export { ENGINE_PATCHES, type EnginePatchName } from "./engine-patches/index.js";
export { FAST_KERNELS, type FastKernelName, INSTALL_ORDER, installFastKernels, type KernelReplacementName } from "./kernels/index.js";
export { registerAdamKernel } from "./kernels/adam-update/reference.js";
export { registerSgdStepKernel } from "./kernels/sgd-step/reference.js";
