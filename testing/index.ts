/**
 * xmpp-s2s/testing: a small kit for plugin authors' tests (docs/writing-a-plugin.md §8). Start
 * servers from TOML files on loopback addresses, connect an XEP-0114 component, wait for an event
 * or a log line by its `what`. Real sockets, no mocks; every wait has a generous deadline.
 */
import "../core/cjs/reflect-metadata.js";

export { startServer, captureLogs, loopbackToml, type TestServer, type StartOptions, type LoopbackNode, type LogLine, type Entry } from "./server.js";
export { connectComponent, stanzaErrorCondition, type TestComponent, type ComponentOptions } from "./component.js";
export { freePort, reservePorts } from "./ports.js";
export { DEADLINE_MS, waitFor, eventually } from "./wait.js";
export { VirtualClock } from "../core/clock/virtual-clock.js";
// The core pieces a plugin's unit tests run it against: the policy chain (TOML order, then
// s2s.default_policy) and the stanza router.
export { OrderedPolicyChain } from "../core/policy/policy-chain.js";
export { CoreRouter } from "../core/router/core-router.js";
