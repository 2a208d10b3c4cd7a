// What every plugin's main.ts re-exports:  export * from "../../shared/proxy/exports";
// ABI markers. Higress's Envoy takes the first marker it knows: 0_2_100 (its Go SDK's revision), under
// which a headers StopIteration holds the headers while body callbacks still run, so plugins can decide
// on the body before anything goes upstream. Upstream Envoy does not know 0_2_100 and takes 0_2_1,
// where that StopIteration becomes StopAllIteration. Keep this order.
export function proxy_abi_version_0_2_100(): void {}
export function proxy_abi_version_0_2_1(): void {}
export * from "./dispatch";
