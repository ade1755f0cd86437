import { describeGradientFamily } from "./testing/suite.js";

describeGradientFamily("unary");
