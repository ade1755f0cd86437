// A Concord plug-in module: `concord train sinusoid --weighting cosine-agreement --plugin ./plugin.mjs`.
// The default export maps plug-in kinds to named factories; each factory gets the config's options.
// Plain .mjs so Node can import it; it uses the compiled scheme (run `pnpm build` first).
import { cosineAgreement } from "./dist/cosine-agreement.js";

export default {
  weighting: {
    "cosine-agreement": (options) => cosineAgreement(options),
  },
};
