// `npm run package` (scripts/package.mjs): every plugin as an OCI image layout in the format Higress
// pulls (spec.yaml and README.md layers, then plugin.tar.gz with plugin.wasm as the last layer),
// content-addressed correctly, extractable by tar, and reproducible.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { REPO_ROOT } from "../../host/gateway/config.ts";
import { buildPlugins } from "../e2e/helpers.ts";
import { PLUGINS, pluginFile } from "./helpers.ts";

const out = mkdtempSync(join(tmpdir(), "oci-"));
const again = mkdtempSync(join(tmpdir(), "oci-"));
let printed = "";

before(() => {
  buildPlugins();
  printed = execFileSync(process.execPath, ["scripts/package.mjs", "--out", out], { cwd: REPO_ROOT, encoding: "utf8" });
  execFileSync(process.execPath, ["scripts/package.mjs", "--out", again], { cwd: REPO_ROOT });
});

const json = (path: string) => JSON.parse(readFileSync(path, "utf8"));
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Reads a blob, checking it is stored under its digest with the descriptor's size. */
function blob(dir: string, desc: { digest: string; size: number }): Buffer {
  const hex = desc.digest.replace(/^sha256:/, "");
  const data = readFileSync(join(dir, "blobs", "sha256", hex));
  assert.equal(sha256(data), hex, `blob ${desc.digest} content matches its name`);
  assert.equal(data.length, desc.size, `blob ${desc.digest} size`);
  return data;
}

for (const name of PLUGINS) {
  test(`${name}: an OCI image layout with Higress's wasm plugin layers`, () => {
    const dir = join(out, name);
    assert.deepEqual(json(join(dir, "oci-layout")), { imageLayoutVersion: "1.0.0" });
    const index = json(join(dir, "index.json"));
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.manifests.length, 1);
    const version = parse(readFileSync(pluginFile(name, "spec.yaml"), "utf8")).info.version;
    assert.equal(index.manifests[0].annotations["org.opencontainers.image.ref.name"], version);
    assert.equal(index.manifests[0].mediaType, "application/vnd.oci.image.manifest.v1+json");
    const manifest = JSON.parse(blob(dir, index.manifests[0]).toString("utf8"));
    assert.equal(manifest.schemaVersion, 2);
    assert.equal(manifest.mediaType, "application/vnd.oci.image.manifest.v1+json");
    assert.equal(manifest.config.mediaType, "application/vnd.unknown.config.v1+json");
    assert.equal(blob(dir, manifest.config).toString(), "{}");
    assert.deepEqual(manifest.layers.map((l: any) => l.mediaType), [
      "application/vnd.module.wasm.spec.v1+yaml", "application/vnd.module.wasm.doc.v1+markdown", "application/vnd.oci.image.layer.v1.tar+gzip",
    ]);
    assert.deepEqual(blob(dir, manifest.layers[0]), readFileSync(pluginFile(name, "spec.yaml")));
    assert.deepEqual(blob(dir, manifest.layers[1]), readFileSync(pluginFile(name, "README.md")));
    // The last layer: a tar.gz whose plugin.wasm is the build (read back by the system's tar).
    blob(dir, manifest.layers[2]);
    const layerFile = join(dir, "blobs", "sha256", manifest.layers[2].digest.slice(7));
    assert.equal(execFileSync("tar", ["-tzf", layerFile], { encoding: "utf8" }), "plugin.wasm\n");
    const wasm = execFileSync("tar", ["-xzOf", layerFile, "plugin.wasm"]);
    assert.deepEqual(wasm, readFileSync(join(REPO_ROOT, "dist", `${name}.wasm`)));
    assert.ok(WebAssembly.validate(wasm));
    // Nothing else in the layout.
    assert.equal(readdirSync(join(dir, "blobs", "sha256")).length, 2 + manifest.layers.length);
    assert.match(printed, new RegExp(`${name}:${version.replace(/\./g, "\\.")}  ${index.manifests[0].digest}`));
  });
}

test("packaging is reproducible: the same builds give the same manifest digests", () => {
  for (const name of PLUGINS) {
    assert.equal(json(join(again, name, "index.json")).manifests[0].digest, json(join(out, name, "index.json")).manifests[0].digest, name);
  }
});
