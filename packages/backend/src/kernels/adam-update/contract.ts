// ConcordAdamUpdate: one Adam update of one parameter as a single kernel. Name, attributes and
// formula in @concord/core: @concord/optimizers' adam() runs it by name when registered. No gradient
// (an outer optimizer's step is never differentiated) and no native variant.
import { ADAM_UPDATE_KERNEL, type AdamUpdateAttrs } from "@concord/core";

export { ADAM_UPDATE_KERNEL, type AdamUpdateAttrs };
