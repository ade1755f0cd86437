// The cross-entropy kernels' gradients against central finite differences at first and second order
// (gradients/testing: the loss kernel's gradient is the gradient kernel, whose own gradient is the
// second-order kernel in the outermost pass and tf ops under a tape), on every backend.
import { describeGradientFamily } from "../../gradients/testing/suite.js";

describeGradientFamily("cross-entropy");
