// A Concord plug-in module: `concord train sinusoid --weighting cosine-agreement --plugin ./plugin.mjs`.
// The default export is an array of plug-in definitions (kind, name, options schema, create).
// Plain .mjs so Node can import it; it uses the compiled definition (run `pnpm build` first).
import { cosineAgreementPlugin } from "./dist/cosine-agreement-plugin.js";

export default [cosineAgreementPlugin];
