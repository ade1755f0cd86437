// Every package's tests run with Concord installed, as a user's program does after useBackend():
// both test backends loaded, then Concord's gradients, kernels and clone patch for them. Nothing is
// installed on import any more (@concord/backend's installConcord is the only way in), so tests
// that need a pristine TensorFlow.js call uninstallConcord() themselves.
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { installConcord } from "./packages/backend/src/index.js";

installConcord();
