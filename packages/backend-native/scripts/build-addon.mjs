// Compiles the native addon (native/concord_native.cc) into build/concord_native.node with the
// system C++ compiler against Node's own headers and OpenBLAS (no node-gyp: it would download
// headers). Run by `install` and `build` with --optional: a failure only warns, so the workspace
// still installs and builds where there is no compiler (`pnpm start` needs only Node and npm;
// loadNativeKernels() then says what to install). With CI=true every failure is fatal.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "native", "concord_native.cc");
const target = join(root, "build", "concord_native.node");
const optional = process.argv.includes("--optional") && process.env.CI !== "true";
const INSTALL_HINT = "install a C++ compiler and OpenBLAS (Debian/Ubuntu: apt-get install -y g++ libopenblas-dev)";

function fail(message) {
  const text = `@concord/backend-native: ${message}`;
  if (optional) {
    console.warn(`${text}\n(the package installed without its addon; useBackend("native") will fail until this is fixed)`);
    process.exit(0);
  }
  console.error(text);
  process.exit(1);
}

/** A folder holding node_api.h: Node's own include folder, the system's, or the node-api-headers package. */
function nodeApiIncludes() {
  const candidates = [join(dirname(process.execPath), "..", "include", "node"), "/usr/include/node", "/usr/local/include/node"];
  try {
    const headers = createRequire(import.meta.url)("node-api-headers");
    if (headers?.include_dir) candidates.push(headers.include_dir);
  } catch {
    // not installed: the other folders
  }
  return candidates.find((dir) => existsSync(join(dir, "node_api.h")));
}

/** The folder of OpenBLAS's cblas.h (Debian puts it under the multiarch include folder). */
function cblasIncludes() {
  const candidates = ["/usr/include/x86_64-linux-gnu", "/usr/include/aarch64-linux-gnu", "/usr/include/openblas", "/usr/include", "/usr/local/include"];
  return candidates.find((dir) => existsSync(join(dir, "cblas.h")));
}

if (existsSync(target) && statSync(target).mtimeMs >= statSync(source).mtimeMs && !process.argv.includes("--force")) process.exit(0);
if (process.platform === "win32") fail("building the addon on Windows is not supported");
const nodeApi = nodeApiIncludes();
if (!nodeApi) fail(`node_api.h not found (looked beside ${process.execPath}, in /usr/include/node and in node-api-headers)`);
const cblas = cblasIncludes();
if (!cblas) fail(`cblas.h not found: ${INSTALL_HINT}`);
const compiler = process.env.CXX ?? "g++";
mkdirSync(dirname(target), { recursive: true });
// No floating-point contraction (FMA): the batch-norm kernels do the same double arithmetic as
// @concord/backend's JavaScript ones, element for element, on every architecture. No trapping
// math (nothing reads floating-point exception flags): lets -O3 vectorise the ReLU's selects.
// -Wno-psabi: GCC notes that 32-byte vector arguments of the batch-norm helpers would pass
// differently without AVX; they are internal (anonymous namespace, inlined), so no ABI is involved.
const args = ["-O3", "-ffp-contract=off", "-fno-trapping-math", "-std=c++17", "-shared", "-fPIC", "-fvisibility=hidden", "-Wall", "-Wno-psabi", `-I${nodeApi}`, `-I${cblas}`, source, "-o", target, "-lopenblas", "-pthread"];
const result = spawnSync(compiler, args, { encoding: "utf8" });
if (result.error) fail(`could not run ${compiler} (${result.error.message}): ${INSTALL_HINT}`);
if (result.status !== 0) fail(`${compiler} failed (${INSTALL_HINT} if cblas or -lopenblas is missing):\n${result.stderr}`);
console.log(`@concord/backend-native: built ${target}`);
