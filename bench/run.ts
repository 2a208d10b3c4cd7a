// Runs every benchmark piece in turn (npm run bench). Each prints its table and BENCH lines.
import { benchJsonSse } from "./json-sse";

await benchJsonSse();
