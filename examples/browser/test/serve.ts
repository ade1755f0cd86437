/** Builds the app with Vite and serves dist/ on a free loopback port (a plain static server). */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "vite";

export const APP_DIR = resolve(fileURLToPath(new URL("..", import.meta.url)));
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".css": "text/css",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".bin": "application/octet-stream",
  ".png": "image/png",
};

export async function buildApp(): Promise<string> {
  await build({ root: APP_DIR, logLevel: "error", configFile: join(APP_DIR, "vite.config.ts") });
  return join(APP_DIR, "dist");
}

/** The app's build folder, as test/build-app-once.ts left it; an error that says so when it is missing. */
export function builtApp(): string {
  const dist = join(APP_DIR, "dist");
  if (!existsSync(join(dist, "index.html"))) {
    throw new Error(`expected the app built in ${dist} by the global setup (test/build-app-once.ts in vitest.config.ts), found no index.html`);
  }
  return dist;
}

export async function serve(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname);
    const file = normalize(join(dir, path.endsWith("/") ? `${path}index.html` : path));
    if (!file.startsWith(dir)) {
      response.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      response.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(body);
    } catch {
      response.writeHead(404).end("not found");
    }
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise((done) => server.close(() => done())),
  };
}

/**
 * Gzipped sizes (level 9, KiB) of what the built app serves: the JavaScript, CSS and HTML; the wasm
 * binary a browser actually loads (SIMD, single thread); and the Omniglot model (weights barely compress).
 */
export async function bundleSizes(dist: string): Promise<{ codeGzipKiB: number; wasmSimdGzipKiB: number; modelGzipKiB: number }> {
  const { readdir } = await import("node:fs/promises");
  const { gzipSync } = await import("node:zlib");
  const files = (await readdir(dist, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
  const gzipKiB = async (paths: string[]) => {
    let total = 0;
    for (const path of paths) total += gzipSync(await readFile(path), { level: 9 }).byteLength;
    return Math.round((10 * total) / 1024) / 10;
  };
  return {
    codeGzipKiB: await gzipKiB(files.filter((path) => /\.(js|css|html)$/.test(path) && !/test-hooks/.test(path))),
    wasmSimdGzipKiB: await gzipKiB(files.filter((path) => /tfjs-backend-wasm-simd-[^/]*\.wasm$/.test(path))),
    modelGzipKiB: await gzipKiB(files.filter((path) => path.includes("/models/"))),
  };
}
