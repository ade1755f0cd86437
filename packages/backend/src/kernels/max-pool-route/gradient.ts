// The gradients of ConcordMaxPoolRoute and ConcordMaxPoolGather (contract.ts): each is linear in its
// second input with the other as its adjoint, and piecewise constant in x (zero gradient), so the
// max-pool gradient stays differentiable at every order.
import * as tf from "@tensorflow/tfjs-core";
import type { GradConfig } from "@tensorflow/tfjs-core";
import { saved, single } from "../../gradients/util.js";
import { MAX_POOL_GATHER_KERNEL as GATHER, maxPoolGather, maxPoolRoute, MAX_POOL_ROUTE_KERNEL as ROUTE } from "./contract.js";

export const maxPoolRouteGradients: GradConfig[] = [
  {
    kernelName: ROUTE,
    inputsToSave: ["x"],
    gradFunc: (ddx, s, attrs) => {
      const x = saved(s, 0);
      return { x: () => tf.zerosLike(x), dy: () => maxPoolGather(x, single(ddx), attrs) };
    },
  },
  {
    kernelName: GATHER,
    inputsToSave: ["x"],
    gradFunc: (dout, s, attrs) => {
      const x = saved(s, 0);
      return { x: () => tf.zerosLike(x), g: () => maxPoolRoute(x, single(dout), attrs) };
    },
  },
];
