import { describeGradientFamily } from "./testing/suite.js";

describeGradientFamily("reduction");
