// Rewrites a checkpoint's JSON header in place (checksum recomputed), as a checkpoint written by
// another build would look: for the tests that a worker refuses it.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";

export function rewriteCheckpointHeader(path: string, edit: (header: Record<string, unknown>) => void): void {
  const file = readFileSync(path);
  const firstEnd = file.indexOf(0x0a);
  const body = file.subarray(firstEnd + 1);
  const headerEnd = body.indexOf(0x0a);
  const header = JSON.parse(body.subarray(0, headerEnd).toString("utf8")) as Record<string, unknown>;
  edit(header);
  const newBody = Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`, "utf8"), body.subarray(headerEnd + 1)]);
  const first = JSON.parse(file.subarray(0, firstEnd).toString("utf8")) as Record<string, unknown>;
  first.sha256 = createHash("sha256").update(newBody).digest("hex");
  writeFileSync(path, Buffer.concat([Buffer.from(`${JSON.stringify(first)}\n`, "utf8"), newBody]));
}
