// The token-estimator sample sets (see tests/fixtures/tokens/README.md): prose paragraphs
// written for this project, and code chunks cut from pinned, permissively licensed
// packages in node_modules. "calibration" fits the constants, "heldout" measures them.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export type Kind = "english" | "chinese" | "code" | "other";
export type SampleSet = "calibration" | "heldout";
export interface Sample { kind: Kind; name: string; text: string }

const fixtures = fileURLToPath(new URL("../fixtures/tokens/", import.meta.url));
const nodeModules = fileURLToPath(new URL("../../node_modules/", import.meta.url));

function prose(kind: Kind, set: SampleSet): Sample[] {
  return readFileSync(`${fixtures}${kind}-${set}.txt`, "utf8").split(/\n%%\n/)
    .map((text, i) => ({ kind, name: `${kind}-${set}#${i + 1}`, text: text.trim() }));
}

function code(set: SampleSet): Sample[] {
  const manifest = JSON.parse(readFileSync(`${fixtures}code-sources.json`, "utf8"));
  const out: Sample[] = [];
  for (const file of manifest[set] as string[]) {
    let chunk = "";
    let n = 0;
    const flush = () => { out.push({ kind: "code", name: `${file}#${++n}`, text: chunk }); chunk = ""; };
    for (const line of readFileSync(nodeModules + file, "utf8").split("\n")) {
      if (n >= manifest.maxChunksPerFile) break;
      chunk += line + "\n";
      if (chunk.length >= manifest.chunkChars) flush();
    }
    if (chunk && n < manifest.maxChunksPerFile) flush();
  }
  return out;
}

export function samples(set: SampleSet): Sample[] {
  return [...prose("english", set), ...prose("chinese", set), ...code(set), ...prose("other", set)];
}

/** The prose samples of `set` cut into sentences (short texts, as in chat turns and stream deltas). */
export function sentences(set: SampleSet): Sample[] {
  return samples(set).filter((s) => s.kind !== "code").flatMap((s) =>
    (s.text.match(/[^.!?。！？]+[.!?。！？]*["”]?/g) ?? []).map((t) => t.trim()).filter((t) => t.length > 0)
      .map((text, i) => ({ kind: s.kind, name: `${s.name}.${i + 1}`, text })));
}
