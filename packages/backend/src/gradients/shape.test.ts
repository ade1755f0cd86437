import { describeGradientFamily } from "./testing/suite.js";

describeGradientFamily("shape");
