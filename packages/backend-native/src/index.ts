// Pure export: importing this package loads nothing. loadNativeKernels() loads the addon that
// `build`/`install` compiled (build/concord_native.node); useBackend("native") from @concord/backend
// calls it.
export { type LoadNativeOptions, loadNativeKernels, NATIVE_INSTALL_HINT, type NativeAddon, type NativeThreadControl } from "./load.js";
