// host-trace built as a Higress ABI "0_2_100" module (what Higress's Go SDK exports): Higress's
// Envoy then keeps a headers StopIteration as it is instead of turning it into StopAll.
export * from "../host-trace/main";
export function proxy_abi_version_0_2_100(): void {}
