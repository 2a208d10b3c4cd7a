// `npm run package`: each plugin as an OCI image layout under dist/oci/<name>/, the way Higress's own
// plugin images are built (oras push of spec.yaml, README.md and plugin.tar.gz), ready to copy to a
// registry without Docker:
//   oras cp --from-oci-layout dist/oci/ai-proxy:1.0.0 registry.example.com/plugins/ai-proxy:1.0.0
// Layers, in order: spec.yaml (application/vnd.module.wasm.spec.v1+yaml), README.md
// (application/vnd.module.wasm.doc.v1+markdown), and last plugin.tar.gz holding plugin.wasm
// (application/vnd.oci.image.layer.v1.tar+gzip): Higress's image fetcher takes the wasm from the last
// layer, its console reads the spec and README layers. Config: oras 1.0's empty
// application/vnd.unknown.config.v1+json. The output is byte-for-byte reproducible.
//   node scripts/package.mjs [--out DIR] [plugin ...]
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { parse } from "yaml";

export const MEDIA = {
  manifest: "application/vnd.oci.image.manifest.v1+json",
  index: "application/vnd.oci.image.index.v1+json",
  config: "application/vnd.unknown.config.v1+json",
  spec: "application/vnd.module.wasm.spec.v1+yaml",
  readme: "application/vnd.module.wasm.doc.v1+markdown",
  plugin: "application/vnd.oci.image.layer.v1.tar+gzip",
};

/** A one-file POSIX ustar archive (mode 0644, uid/gid 0, mtime 0: reproducible). */
export function tarOne(name, data) {
  const header = Buffer.alloc(512);
  const put = (text, offset, length) => header.write(text, offset, length, "ascii");
  const octal = (n, width) => n.toString(8).padStart(width - 1, "0") + "\0";
  put(name, 0, 100);
  put(octal(0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(data.length, 12), 124, 12);
  put(octal(0, 12), 136, 12);
  put("        ", 148, 8);           // checksum field counts as spaces while summing
  put("0", 156, 1);
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  const sum = header.reduce((s, b) => s + b, 0);
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header, data, pad, Buffer.alloc(1024)]);
}

const sha256 = (b) => createHash("sha256").update(b).digest("hex");

class Layout {
  constructor(dir) {
    this.dir = dir;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
  }
  /** Stores a blob; returns its descriptor. */
  blob(mediaType, data, annotations) {
    const digest = sha256(data);
    writeFileSync(join(this.dir, "blobs", "sha256", digest), data);
    return { mediaType, digest: `sha256:${digest}`, size: data.length, ...(annotations ? { annotations } : {}) };
  }
}

/** Writes dist/oci/<name>/ for one plugin; returns the tag and manifest digest. */
export function packagePlugin(root, name, outDir) {
  const dir = join(root, "plugins", name);
  const wasmPath = join(root, "dist", `${name}.wasm`);
  if (!existsSync(wasmPath)) throw new Error(`${wasmPath} is missing: run npm run build first`);
  const specText = readFileSync(join(dir, "spec.yaml"));
  const version = String(parse(specText.toString("utf8"))?.info?.version ?? "");
  if (!/^\d+\.\d+\.\d+/.test(version)) throw new Error(`plugins/${name}/spec.yaml: info.version must be a version, got "${version}"`);
  const title = (file) => ({ "org.opencontainers.image.title": file });

  const out = new Layout(join(outDir, name));
  const layers = [out.blob(MEDIA.spec, specText, title("spec.yaml"))];
  if (existsSync(join(dir, "README.md"))) layers.push(out.blob(MEDIA.readme, readFileSync(join(dir, "README.md")), title("README.md")));
  layers.push(out.blob(MEDIA.plugin, gzipSync(tarOne("plugin.wasm", readFileSync(wasmPath)), { level: 9 }), title("plugin.tar.gz")));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: out.blob(MEDIA.config, Buffer.from("{}")),
    layers,
    annotations: { "org.opencontainers.image.title": name, "org.opencontainers.image.version": version },
  }));
  const desc = out.blob(MEDIA.manifest, manifest, { "org.opencontainers.image.ref.name": version });
  writeFileSync(join(out.dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(join(out.dir, "index.json"), JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.index, manifests: [desc] }));
  return { name, version, digest: desc.digest, dir: out.dir };
}

function main() {
  const args = process.argv.slice(2);
  const at = args.indexOf("--out");
  const outDir = at >= 0 ? args[at + 1] : join("dist", "oci");
  const named = args.filter((a, i) => a !== "--out" && i !== at + 1);
  const all = readdirSync("plugins").filter((n) => existsSync(join("plugins", n, "main.ts")) && existsSync(join("plugins", n, "spec.yaml")));
  const names = named.length ? named : all;
  for (const n of names) {
    const r = packagePlugin(".", n, outDir);
    console.log(`${r.dir}  ${r.name}:${r.version}  ${r.digest}`);
  }
  console.log(`\npush with: oras cp --from-oci-layout ${join(outDir, names[0])}:<version> <registry>/<repo>/${names[0]}:<version>`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    main();
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
