import "reflect-metadata";
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Authenticator } from "../../core/auth/authenticator.js";
import type { S2sListenerConfig } from "../../core/config/types.js";
import { VirtualClock } from "../../core/clock/virtual-clock.js";
import { InboundS2sStream } from "../../core/session/inbound-stream.js";
import type { InboundStreamApi } from "../../core/stream/streams.js";
import { el } from "../../core/xml/element.js";
import { socketPair } from "../helpers/socket-pair.js";
import { streamDeps } from "../helpers/stream-deps.js";
import { eventually } from "../helpers/wait.js";

const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='a.example' to='b.example' version='1.0'>";

/**
 * `Authenticator.inboundStreamOpened`: an inbound stream tells its authenticators about each
 * header it answered with their features (dialback resolves the claimed domain ahead of
 * db:result), and only then: under required TLS a plaintext header is answered with STARTTLS
 * alone (RFC 6120 §5.3.1), and nobody hears of it.
 */
describe("inbound stream: authenticators hear of an opened stream", () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  async function open(tlsMode: "false" | "required") {
    const opened: Array<{ from?: string; local: string }> = [];
    const recorder: Authenticator = {
      name: "recorder",
      inboundFeatures: () => [el("recorder", {}, "urn:test:recorder")],
      inboundStreamOpened: (s: InboundStreamApi) => void opened.push({ from: s.headerFrom, local: s.localDomain }),
      handleInbound: () => false,
      authenticateOutbound: async () => ({ outcome: "unavailable", reason: "test" }),
    };
    const deps = streamDeps(new VirtualClock(), { authenticators: [recorder] });
    (deps as { tls: unknown }).tls = { mode: tlsMode, offersStartTls: () => tlsMode !== "false" };
    const sockets = await socketPair();
    cleanups.push(sockets.close);
    const listener = { maxStanzaSize: 10_000, idleTimeoutMs: Infinity, negotiationTimeoutMs: 60_000 } as S2sListenerConfig;
    new InboundS2sStream(sockets.server, listener, deps, () => {});
    sockets.peer.write(HEADER);
    await eventually(() => /<\/stream:features>/.test(sockets.text()));
    return { opened, text: sockets.text };
  }

  it("with the authenticators' features on offer, once per header, with the claimed domain", async () => {
    const { opened, text } = await open("false");
    assert.match(text(), /<recorder xmlns='urn:test:recorder'\/>/);
    assert.deepEqual(opened, [{ from: "a.example", local: "b.example" }]);
  });

  it("not for a plaintext header under required TLS (STARTTLS alone on offer)", async () => {
    const { opened, text } = await open("required");
    assert.match(text(), /<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required\/><\/starttls>/);
    assert.doesNotMatch(text(), /recorder/);
    // The hook runs in the same turn as the features are written, so by now it would have run.
    assert.deepEqual(opened, []);
  });
});
